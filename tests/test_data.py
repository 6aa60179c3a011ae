"""Real-format loaders on tiny files built in the exact formats, bad-input errors, and the HDF5 cache round trip."""
from pathlib import Path
import numpy as np
import pytest
import torch
import h5py
from PIL import Image

from objcentric.data import (DataError, get_dataset, make_loader, PngGlobDataset, Shapes3DH5Dataset, MPI3DNpzDataset,
                             ClevrTexNSIDataset, ImageFolderDataset, to_hdf5, HDF5Dataset, cached, index_to_factors,
                             SHAPES3D_VALUES, SpritesDataset, ClevrLikeDataset, Shapes3DLikeDataset)


def _png(path, rgb, size=(40, 30)):
    Image.fromarray(np.full((size[1], size[0], 3), rgb, np.uint8)).save(path)


# ---------------------------------------------------------------- PNG glob (SysBinder / NLoTM CLEVR folders)
@pytest.fixture
def png_dir(tmp_path):
    for i in range(20):
        _png(tmp_path / f'CLEVR_new_{i:06d}.png', (i * 10, 0, 0))
        m = np.zeros((30, 40, 3), np.uint8); m[:, :10, 0] = 255; m[:, 10:20, 1] = 255   # red and green objects
        Image.fromarray(m).save(tmp_path / f'CLEVR_new_{i:06d}_mask.png')
    return tmp_path


def test_png_glob_splits_sorted_and_masks_excluded(png_dir):
    ds = {s: PngGlobDataset(str(png_dir / '*.png'), s, image_size=16) for s in ('train', 'val', 'test')}
    assert [len(ds[s]) for s in ('train', 'val', 'test')] == [14, 3, 3]
    files = sum((ds[s].files for s in ('train', 'val', 'test')), [])
    assert files == sorted(files) and len(set(files)) == 20
    assert not any(f.endswith('_mask.png') for f in files)
    x = ds['val'][0]['image']
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32
    assert torch.allclose(x[0], torch.full((16, 16), 140 / 255), atol=1e-6)           # 15th file (i=14), red = 140
    # a directory works like '<dir>/*.png'
    assert PngGlobDataset(str(png_dir), 'train').files == ds['train'].files


def test_png_glob_masks(png_dir):
    it = PngGlobDataset(str(png_dir / '*.png'), 'train', image_size=40, masks=True)[0]
    m = it['masks']
    assert m.shape == (4, 40, 40) and m.dtype == torch.bool
    assert (m.sum(0) == 1).all()                                                      # a partition
    assert it['present'].tolist() == [True, True, False] and int(it['num_objects']) == 2
    assert m[1][:, :10].all() and m[2][:, 10:20].all() and m[0][:, 20:].all()


def test_png_glob_errors(tmp_path, png_dir):
    with pytest.raises(DataError, match='matched no image files'):
        PngGlobDataset(str(tmp_path / 'nothing_here' / '*.png'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DataError, match=r'empty.*matched no image files'):
        PngGlobDataset(str(tmp_path / 'empty'))
    with pytest.raises(DataError, match='no such directory'):
        PngGlobDataset(str(tmp_path / 'missing_dir'))
    bad = png_dir / 'CLEVR_new_000003.png'
    bad.write_bytes(b'not a png at all')
    ds = PngGlobDataset(str(png_dir / '*.png'), 'train')
    with pytest.raises(DataError, match=r'CLEVR_new_000003\.png.*readable image'):
        ds[3]


# ---------------------------------------------------------------- 3dshapes.h5
def _shapes_h5(path, n=48, images_key='images'):
    idx = np.arange(n) * 997 % 480000
    f = index_to_factors(idx)
    labels = np.stack([SHAPES3D_VALUES[j][f[:, j]] for j in range(6)], -1).astype(np.float64)
    imgs = (np.arange(n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 64, 64, 3), np.uint8))
    with h5py.File(path, 'w') as h:
        h.create_dataset(images_key, data=imgs)
        h.create_dataset('labels', data=labels)
    return f


def test_3dshapes_h5(tmp_path):
    p = tmp_path / '3dshapes.h5'
    f = _shapes_h5(p)
    sizes = {s: len(Shapes3DH5Dataset(p, s)) for s in ('all', 'train', 'val', 'test')}
    assert sizes == dict(all=48, train=40, val=3, test=3)                             # SLATE's index ranges, scaled
    val = Shapes3DH5Dataset(p, 'val', image_size=32)
    it = val[1]
    assert it['image'].shape == (3, 32, 32)
    assert torch.allclose(Shapes3DH5Dataset(p, 'all')[41]['image'], torch.full((3, 64, 64), 41 / 255))
    assert it['factors'][0].long().tolist() == f[41].tolist()                        # val starts at index 40 (400001/480000*48 rounds to 40)
    assert torch.allclose(it['labels'], torch.tensor([SHAPES3D_VALUES[j][f[41, j]] for j in range(6)], dtype=torch.float32))
    ds = get_dataset('3dshapes_h5', 'train', data_path=p, n=5)
    assert len(ds) == 5
    # the file handle is per process, and the dataset survives a DataLoader with workers
    batch = next(iter(make_loader(ds, 5, shuffle=False, num_workers=2)))
    assert batch['image'].shape == (5, 3, 64, 64)


def test_3dshapes_h5_errors(tmp_path):
    with pytest.raises(DataError, match=r'nope\.h5: file not found'):
        Shapes3DH5Dataset(tmp_path / 'nope.h5')
    p = tmp_path / 'wrong_key.h5'
    _shapes_h5(p, images_key='imgs')
    with pytest.raises(DataError, match=r"wrong_key\.h5: expected HDF5 dataset\(s\) \['images'\], found keys \['imgs', 'labels'\]"):
        Shapes3DH5Dataset(p)
    q = tmp_path / 'not_hdf5.h5'
    q.write_bytes(b'garbage' * 100)
    with pytest.raises(DataError, match=r'not_hdf5\.h5: expected an HDF5 file'):
        Shapes3DH5Dataset(q)
    r = tmp_path / 'bad_dtype.h5'
    with h5py.File(r, 'w') as h:
        h['images'] = np.zeros((4, 64, 64, 3), np.float32); h['labels'] = np.zeros((4, 6))
    with pytest.raises(DataError, match=r"bad_dtype\.h5: expected 'images' uint8"):
        Shapes3DH5Dataset(r)


# ---------------------------------------------------------------- MPI3D .npz
SIZES = (2, 2, 1, 1, 1, 2, 3)


def _mpi(path, compressed=False, key='images'):
    n = int(np.prod(SIZES))
    imgs = np.arange(n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 64, 64, 3), np.uint8)
    (np.savez_compressed if compressed else np.savez)(path, **{key: imgs})


@pytest.mark.parametrize('compressed', [False, True])
def test_mpi3d_npz(tmp_path, compressed):
    p = tmp_path / 'mpi3d_toy.npz'
    _mpi(p, compressed)
    ds = MPI3DNpzDataset(p, 'all', factor_sizes=SIZES)
    assert isinstance(ds.images, np.memmap) != compressed                            # uncompressed members are memory-mapped
    it = ds[17]
    assert torch.allclose(it['image'], torch.full((3, 64, 64), 17 / 255))
    assert it['factors'][0].long().tolist() == index_to_factors(17, SIZES).tolist() == [1, 0, 0, 0, 0, 1, 2]
    ids = [set(MPI3DNpzDataset(p, s, factor_sizes=SIZES).ids.tolist()) for s in ('train', 'val', 'test')]
    assert sum(map(len, ids)) == 24 and not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])


def test_mpi3d_errors(tmp_path):
    p = tmp_path / 'mpi3d_toy.npz'
    _mpi(p)
    with pytest.raises(DataError, match=r'mpi3d_toy\.npz: expected 460800 images for factor sizes .* found 24'):
        MPI3DNpzDataset(p)
    with pytest.raises(DataError, match=r'expected 1036800 images for factor sizes \(6, 6, 2, 3, 3, 40, 40\)'):
        MPI3DNpzDataset(p, variant='real')
    q = tmp_path / 'other.npz'
    _mpi(q, key='imgs')
    with pytest.raises(DataError, match=r"other\.npz: expected array 'images' in the \.npz, found \['imgs'\]"):
        MPI3DNpzDataset(q, factor_sizes=SIZES)
    with pytest.raises(DataError, match='file not found'):
        MPI3DNpzDataset(tmp_path / 'missing.npz')


# ---------------------------------------------------------------- NSI's CLEVRTex build
def _clevrtex(root, counts=dict(train=6, val=2, test=2)):
    rng = np.random.default_rng(0)
    with h5py.File(root / 'images.h5', 'w') as h:
        for s, n in counts.items():
            h.create_dataset(s, data=rng.random((n, 128, 128, 3)))                     # float64 in [0,1]
    for s, n in counts.items():
        scenes = [[[i % 3, j % 4, (i + j) % 60, float(j), -float(j), 0.35] for j in range(3 + i % 4)] for i in range(n)]
        arr = np.empty(n, dtype=object)
        for i, sc in enumerate(scenes): arr[i] = sc
        np.save(root / f'{s}_labels.npy', arr, allow_pickle=True)


def test_clevrtex_nsi(tmp_path):
    _clevrtex(tmp_path)
    ds = ClevrTexNSIDataset(tmp_path, 'train', image_size=64)
    assert len(ds) == 6
    it = ds[1]                                                                        # 4 objects
    assert it['image'].shape == (3, 64, 64) and it['image'].dtype == torch.float32
    assert it['factors'].shape == (10, 6) and int(it['num_objects']) == 4
    assert it['present'].tolist() == [True] * 4 + [False] * 6
    assert it['factors'][3].tolist() == [1, 3, 4, 3.0, -3.0, pytest.approx(0.35)]
    assert (it['factors'][4:] == 0).all()
    with h5py.File(tmp_path / 'images.h5') as h:
        ref = torch.from_numpy(h['val'][0]).permute(2, 0, 1).float()
    assert torch.allclose(ClevrTexNSIDataset(tmp_path, 'val', image_size=128)[0]['image'], ref)
    b = next(iter(make_loader(ds, 3, shuffle=False)))
    assert b['factors'].shape == (3, 10, 6) and b['present'].shape == (3, 10)


def test_clevrtex_nsi_errors(tmp_path):
    with pytest.raises(DataError, match='directory not found'):
        ClevrTexNSIDataset(tmp_path / 'nope')
    _clevrtex(tmp_path)
    (tmp_path / 'test_labels.npy').unlink()
    with pytest.raises(DataError, match=r'test_labels\.npy: file not found'):
        ClevrTexNSIDataset(tmp_path, 'test')
    arr = np.empty(5, dtype=object)
    for i in range(5): arr[i] = [[0, 0, 0, 0., 0., 0.]]
    np.save(tmp_path / 'val_labels.npy', arr, allow_pickle=True)
    with pytest.raises(DataError, match=r'val_labels\.npy: expected 2 scenes'):
        ClevrTexNSIDataset(tmp_path, 'val')
    with h5py.File(tmp_path / 'images.h5', 'a') as h: del h['train']
    with pytest.raises(DataError, match=r"images\.h5: expected HDF5 dataset\(s\) \['train'\]"):
        ClevrTexNSIDataset(tmp_path, 'train')


# ---------------------------------------------------------------- ImageFolder (StanfordDogs)
def test_image_folder(tmp_path):
    for c, name in enumerate(['n02085620-Chihuahua', 'n02085782-Japanese_spaniel', 'n02085936-Maltese_dog']):
        (tmp_path / name).mkdir()
        for i in range(20): _png(tmp_path / name / f'{name[:9]}_{i}.jpg', (c * 100, i, 0))
    ds = {s: ImageFolderDataset(tmp_path, s, image_size=24, fractions=(0.8, 0.1, 0.1)) for s in ('train', 'val', 'test')}
    assert [len(ds[s]) for s in ds] == [48, 6, 6]
    files = [set(f for f, _ in ds[s].items) for s in ds]
    assert not (files[0] & files[1]) and not (files[0] & files[2]) and not (files[1] & files[2])
    it = ds['val'][0]
    assert it['image'].shape == (3, 24, 24) and int(it['label']) == 0
    assert ds['train'].classes[2] == 'n02085936-Maltese_dog'
    labels = torch.stack([ds['train'][i]['label'] for i in range(len(ds['train']))])
    assert labels.bincount().tolist() == [16, 16, 16]
    assert torch.allclose(ds['train'][40]['image'][0], torch.full((24, 24), 200 / 255))  # class 2 is red=200
    # same split again (fixed seed)
    assert ImageFolderDataset(tmp_path, 'val', fractions=(0.8, 0.1, 0.1)).items == ds['val'].items
    (tmp_path / 'n02085620-Chihuahua' / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n broken')
    ds2 = ImageFolderDataset(tmp_path, 'train', fractions=(1, 0, 0))
    i = [k for k, (f, _) in enumerate(ds2.items) if f.endswith('broken.png')][0]
    with pytest.raises(DataError, match=r'broken\.png: expected a readable image file'):
        ds2[i]


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match='directory not found'):
        ImageFolderDataset(tmp_path / 'dogs')
    with pytest.raises(DataError, match='no class sub-directories'):
        ImageFolderDataset(tmp_path)


# ---------------------------------------------------------------- HDF5 cache
def _same(a, b):
    assert set(a) == set(b), (set(a), set(b))
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize('make', [lambda: SpritesDataset('val', n=40, background='textured'),
                                  lambda: ClevrLikeDataset('test', n=12, textures=True),
                                  lambda: Shapes3DLikeDataset('train', n=10)])
def test_hdf5_cache_round_trip(tmp_path, make):
    ds = make()
    p = to_hdf5(ds, tmp_path / 'cache.h5', batch_size=16)
    h = HDF5Dataset(p)
    assert len(h) == len(ds) and h.factor_names == tuple(ds.factor_names)
    for i in (0, 5, len(ds) - 1):
        _same(ds[i], h[i])
    _same(ds.get_batch([7, 2, 7]), h.get_batch([7, 2, 7]))
    with h5py.File(p) as f: assert f['image_u8'].dtype == np.uint8                    # exact uint8 storage
    b = next(iter(make_loader(h, 4, shuffle=False)))
    assert torch.equal(b['image'], ds.get_batch(range(4))['image'])


def test_cached_and_get_dataset(tmp_path):
    p = tmp_path / 'sprites.h5'
    a = get_dataset('sprites', 'val', n=20, seed=1, cache_path=p)
    assert isinstance(a, HDF5Dataset) and p.exists()
    b = get_dataset('sprites', 'val', n=20, seed=1, cache_path=p)                     # reloads
    _same(a[3], b[3]); _same(a[3], SpritesDataset('val', n=20, seed=1)[3])
    with pytest.raises(DataError, match=r'sprites\.h5: the cache holds .* expected'):
        cached(SpritesDataset('val', n=20, seed=2), p)
    with pytest.raises(DataError, match='file exists'):
        to_hdf5(SpritesDataset('val', n=20, seed=1), p)
    q = tmp_path / 'plain.h5'
    with h5py.File(q, 'w') as f: f['x'] = np.zeros(3)
    with pytest.raises(DataError, match=r'plain\.h5: expected an objcentric HDF5 cache'):
        HDF5Dataset(q)


# ---------------------------------------------------------------- loaders
def test_loader_workers_do_not_change_batches():
    ds = get_dataset('clevr_like', n=16, seed=5)
    a = [b['image'] for b in make_loader(ds, 4, seed=3, num_workers=0)]
    b = [b['image'] for b in make_loader(ds, 4, seed=3, num_workers=2)]
    assert all(torch.equal(x, y) for x, y in zip(a, b)) and len(a) == 4


def test_get_dataset_real_names_need_paths():
    for name in ('png_glob', '3dshapes_h5', 'mpi3d_npz', 'clevrtex_nsi', 'image_folder'):
        with pytest.raises(DataError, match='data_path'):
            get_dataset(name)
