"""The key maps benchmarks/vs_official.py uses for VCT, Visual GPT and NSI: objcentric's weights land on exactly the official
state dicts (layouts recorded from ThomasMrY/VCT c19b8c8, yzGuu830/visual-gpt 2975e6f with transformers 5.25, jha-lab/neural-slot-interpreters
0e49e6d, at the small configurations below), the maps invert, and the GPT-2 map computes our Visual GPT's logits when the
GPT-2 forward is written out from the mapped tensors. No official code is needed here."""
import importlib.util, math, sys
from pathlib import Path
import torch
import torch.nn.functional as F
from objcentric.vct import VCT, VCTConfig
from objcentric.visual_gpt import VisualGPT, VisualGPTConfig
from objcentric.nsi import NSI, NSIConfig

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location('vs_official', ROOT / 'benchmarks' / 'vs_official.py')
V = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(V)
torch.set_num_threads(1)

VC = VCTConfig(image_size=16, vq_hidden=8, vq_codes=6, num_concepts=3, concept_dim=8, enc_depth=2, dec_depth=2, query_dim=8, cross_dim_head=4,
               self_heads=2, self_dim_head=4)
GC = VisualGPTConfig(num_codes=6, num_classes=3, grid=(2, 3), d_model=8, num_layers=2, num_heads=2, max_positions=8)
NC = NSIConfig(image_size=224, backbone_size=224, pixel_mean=(0., 0., 0.), pixel_std=(1., 1., 1.), schema_mask=False, backbone_kwargs=dict(depth=1),
               num_slots=3, num_iters=1, slot_size=8, mlp_hidden=8, embed_dim=4, head_hidden=16, d_model=8, num_blocks=2, num_heads=2)

# `state_dict()` of OfficialVCT(VC), official_vgpt(GC) and OfficialNSI(NC) in vs_official.py, built from the official repositories
OFFICIAL_VCT = """
dec.cs_layers.0.0.fn.to_kv.weight 8x8
dec.cs_layers.0.0.fn.to_out.bias 8
dec.cs_layers.0.0.fn.to_out.weight 8x4
dec.cs_layers.0.0.fn.to_q.weight 4x8
dec.cs_layers.0.0.norm.bias 8
dec.cs_layers.0.0.norm.weight 8
dec.cs_layers.0.0.norm_context.bias 8
dec.cs_layers.0.0.norm_context.weight 8
dec.cs_layers.0.1.fn.net.0.bias 64
dec.cs_layers.0.1.fn.net.0.weight 64x8
dec.cs_layers.0.1.fn.net.2.bias 8
dec.cs_layers.0.1.fn.net.2.weight 8x32
dec.cs_layers.0.1.norm.bias 8
dec.cs_layers.0.1.norm.weight 8
dec.cs_layers.1.0.fn.to_kv.weight 8x8
dec.cs_layers.1.0.fn.to_out.bias 8
dec.cs_layers.1.0.fn.to_out.weight 8x4
dec.cs_layers.1.0.fn.to_q.weight 4x8
dec.cs_layers.1.0.norm.bias 8
dec.cs_layers.1.0.norm.weight 8
dec.cs_layers.1.0.norm_context.bias 8
dec.cs_layers.1.0.norm_context.weight 8
dec.cs_layers.1.1.fn.net.0.bias 64
dec.cs_layers.1.1.fn.net.0.weight 64x8
dec.cs_layers.1.1.fn.net.2.bias 8
dec.cs_layers.1.1.fn.net.2.weight 8x32
dec.cs_layers.1.1.norm.bias 8
dec.cs_layers.1.1.norm.weight 8
dec.fc_layer.bias 6
dec.fc_layer.weight 6x8
dec.latents 16x8
dec.layers.0.0.fn.to_kv.weight 16x8
dec.layers.0.0.fn.to_out.bias 8
dec.layers.0.0.fn.to_out.weight 8x8
dec.layers.0.0.fn.to_q.weight 8x8
dec.layers.0.0.norm.bias 8
dec.layers.0.0.norm.weight 8
dec.layers.0.1.fn.net.0.bias 64
dec.layers.0.1.fn.net.0.weight 64x8
dec.layers.0.1.fn.net.2.bias 8
dec.layers.0.1.fn.net.2.weight 8x32
dec.layers.0.1.norm.bias 8
dec.layers.0.1.norm.weight 8
dec.layers.1.0.fn.to_kv.weight 16x8
dec.layers.1.0.fn.to_out.bias 8
dec.layers.1.0.fn.to_out.weight 8x8
dec.layers.1.0.fn.to_q.weight 8x8
dec.layers.1.0.norm.bias 8
dec.layers.1.0.norm.weight 8
dec.layers.1.1.fn.net.0.bias 64
dec.layers.1.1.fn.net.0.weight 64x8
dec.layers.1.1.fn.net.2.bias 8
dec.layers.1.1.fn.net.2.weight 8x32
dec.layers.1.1.norm.bias 8
dec.layers.1.1.norm.weight 8
dec.slayers.0.0.fn.to_kv.weight 16x8
dec.slayers.0.0.fn.to_out.bias 8
dec.slayers.0.0.fn.to_out.weight 8x8
dec.slayers.0.0.fn.to_q.weight 8x8
dec.slayers.0.0.norm.bias 8
dec.slayers.0.0.norm.weight 8
dec.slayers.0.1.fn.net.0.bias 64
dec.slayers.0.1.fn.net.0.weight 64x8
dec.slayers.0.1.fn.net.2.bias 8
dec.slayers.0.1.fn.net.2.weight 8x32
dec.slayers.0.1.norm.bias 8
dec.slayers.0.1.norm.weight 8
enc.cs_layers.0.0.fn.to_kv.weight 8x34
enc.cs_layers.0.0.fn.to_out.bias 8
enc.cs_layers.0.0.fn.to_out.weight 8x4
enc.cs_layers.0.0.fn.to_q.weight 4x8
enc.cs_layers.0.0.norm.bias 8
enc.cs_layers.0.0.norm.weight 8
enc.cs_layers.0.0.norm_context.bias 34
enc.cs_layers.0.0.norm_context.weight 34
enc.cs_layers.0.1.fn.net.0.bias 64
enc.cs_layers.0.1.fn.net.0.weight 64x8
enc.cs_layers.0.1.fn.net.2.bias 8
enc.cs_layers.0.1.fn.net.2.weight 8x32
enc.cs_layers.0.1.norm.bias 8
enc.cs_layers.0.1.norm.weight 8
enc.cs_layers.1.0.fn.to_kv.weight 8x34
enc.cs_layers.1.0.fn.to_out.bias 8
enc.cs_layers.1.0.fn.to_out.weight 8x4
enc.cs_layers.1.0.fn.to_q.weight 4x8
enc.cs_layers.1.0.norm.bias 8
enc.cs_layers.1.0.norm.weight 8
enc.cs_layers.1.0.norm_context.bias 34
enc.cs_layers.1.0.norm_context.weight 34
enc.cs_layers.1.1.fn.net.0.bias 64
enc.cs_layers.1.1.fn.net.0.weight 64x8
enc.cs_layers.1.1.fn.net.2.bias 8
enc.cs_layers.1.1.fn.net.2.weight 8x32
enc.cs_layers.1.1.norm.bias 8
enc.cs_layers.1.1.norm.weight 8
enc.latents 3x8
enc.layers.0.0.fn.to_kv.weight 16x34
enc.layers.0.0.fn.to_out.bias 34
enc.layers.0.0.fn.to_out.weight 34x8
enc.layers.0.0.fn.to_q.weight 8x34
enc.layers.0.0.norm.bias 34
enc.layers.0.0.norm.weight 34
enc.layers.0.1.fn.net.0.bias 272
enc.layers.0.1.fn.net.0.weight 272x34
enc.layers.0.1.fn.net.2.bias 34
enc.layers.0.1.fn.net.2.weight 34x136
enc.layers.0.1.norm.bias 34
enc.layers.0.1.norm.weight 34
vqvae.decoder.0.convs.1.bias 8
vqvae.decoder.0.convs.1.weight 8x8x3x3
vqvae.decoder.0.convs.3.bias 8
vqvae.decoder.0.convs.3.weight 8x8x1x1
vqvae.decoder.1.bias 8
vqvae.decoder.1.num_batches_tracked -
vqvae.decoder.1.running_mean 8
vqvae.decoder.1.running_var 8
vqvae.decoder.1.weight 8
vqvae.decoder.2.convs.1.bias 8
vqvae.decoder.2.convs.1.weight 8x8x3x3
vqvae.decoder.2.convs.3.bias 8
vqvae.decoder.2.convs.3.weight 8x8x1x1
vqvae.decoder.3.bias 8
vqvae.decoder.3.weight 8x8x4x4
vqvae.decoder.4.bias 8
vqvae.decoder.4.num_batches_tracked -
vqvae.decoder.4.running_mean 8
vqvae.decoder.4.running_var 8
vqvae.decoder.4.weight 8
vqvae.decoder.6.bias 3
vqvae.decoder.6.weight 8x3x4x4
vqvae.emb.weight 8x6
vqvae.encoder.0.bias 8
vqvae.encoder.0.weight 8x3x4x4
vqvae.encoder.1.bias 8
vqvae.encoder.1.num_batches_tracked -
vqvae.encoder.1.running_mean 8
vqvae.encoder.1.running_var 8
vqvae.encoder.1.weight 8
vqvae.encoder.3.bias 8
vqvae.encoder.3.weight 8x8x4x4
vqvae.encoder.4.bias 8
vqvae.encoder.4.num_batches_tracked -
vqvae.encoder.4.running_mean 8
vqvae.encoder.4.running_var 8
vqvae.encoder.4.weight 8
vqvae.encoder.6.convs.1.bias 8
vqvae.encoder.6.convs.1.weight 8x8x3x3
vqvae.encoder.6.convs.2.bias 8
vqvae.encoder.6.convs.2.num_batches_tracked -
vqvae.encoder.6.convs.2.running_mean 8
vqvae.encoder.6.convs.2.running_var 8
vqvae.encoder.6.convs.2.weight 8
vqvae.encoder.6.convs.4.bias 8
vqvae.encoder.6.convs.4.weight 8x8x1x1
vqvae.encoder.7.bias 8
vqvae.encoder.7.num_batches_tracked -
vqvae.encoder.7.running_mean 8
vqvae.encoder.7.running_var 8
vqvae.encoder.7.weight 8
vqvae.encoder.8.convs.1.bias 8
vqvae.encoder.8.convs.1.weight 8x8x3x3
vqvae.encoder.8.convs.2.bias 8
vqvae.encoder.8.convs.2.num_batches_tracked -
vqvae.encoder.8.convs.2.running_mean 8
vqvae.encoder.8.convs.2.running_var 8
vqvae.encoder.8.convs.2.weight 8
vqvae.encoder.8.convs.4.bias 8
vqvae.encoder.8.convs.4.weight 8x8x1x1
vqvae.encoder.9.bias 8
vqvae.encoder.9.num_batches_tracked -
vqvae.encoder.9.running_mean 8
vqvae.encoder.9.running_var 8
vqvae.encoder.9.weight 8
"""
OFFICIAL_VGPT = """
gpt.lm_head.weight 11x8
gpt.transformer.h.0.attn.c_attn.bias 24
gpt.transformer.h.0.attn.c_attn.weight 8x24
gpt.transformer.h.0.attn.c_proj.bias 8
gpt.transformer.h.0.attn.c_proj.weight 8x8
gpt.transformer.h.0.ln_1.bias 8
gpt.transformer.h.0.ln_1.weight 8
gpt.transformer.h.0.ln_2.bias 8
gpt.transformer.h.0.ln_2.weight 8
gpt.transformer.h.0.mlp.c_fc.bias 32
gpt.transformer.h.0.mlp.c_fc.weight 8x32
gpt.transformer.h.0.mlp.c_proj.bias 8
gpt.transformer.h.0.mlp.c_proj.weight 32x8
gpt.transformer.h.1.attn.c_attn.bias 24
gpt.transformer.h.1.attn.c_attn.weight 8x24
gpt.transformer.h.1.attn.c_proj.bias 8
gpt.transformer.h.1.attn.c_proj.weight 8x8
gpt.transformer.h.1.ln_1.bias 8
gpt.transformer.h.1.ln_1.weight 8
gpt.transformer.h.1.ln_2.bias 8
gpt.transformer.h.1.ln_2.weight 8
gpt.transformer.h.1.mlp.c_fc.bias 32
gpt.transformer.h.1.mlp.c_fc.weight 8x32
gpt.transformer.h.1.mlp.c_proj.bias 8
gpt.transformer.h.1.mlp.c_proj.weight 32x8
gpt.transformer.ln_f.bias 8
gpt.transformer.ln_f.weight 8
gpt.transformer.wpe.weight 8x8
gpt.transformer.wte.weight 11x8
"""
OFFICIAL_NSI_BACKBONE_TENSORS = 18   # img.encoder.* (timm's ViT, the same names on both sides)
OFFICIAL_NSI = """
img.decoder.mlp.0.bias 1024
img.decoder.mlp.0.weight 1024x8
img.decoder.mlp.2.bias 1024
img.decoder.mlp.2.weight 1024x1024
img.decoder.mlp.4.bias 1024
img.decoder.mlp.4.weight 1024x1024
img.decoder.mlp.6.bias 769
img.decoder.mlp.6.weight 769x1024
img.decoder.postional_encoding.weight 784x8
img.embed_mlp.0.bias 16
img.embed_mlp.0.weight 16x4
img.embed_mlp.2.bias 4
img.embed_mlp.2.weight 4x16
img.embed_proj.bias 4
img.embed_proj.weight 4x8
img.norm_embed.bias 4
img.norm_embed.weight 4
img.slot_attn.layer_norm.bias 768
img.slot_attn.layer_norm.weight 768
img.slot_attn.mlp.0.bias 768
img.slot_attn.mlp.0.weight 768x768
img.slot_attn.mlp.2.bias 768
img.slot_attn.mlp.2.weight 768x768
img.slot_attn.slot_attention.gru.bias_hh 24
img.slot_attn.slot_attention.gru.bias_ih 24
img.slot_attn.slot_attention.gru.weight_hh 24x8
img.slot_attn.slot_attention.gru.weight_ih 24x8
img.slot_attn.slot_attention.mlp.0.bias 8
img.slot_attn.slot_attention.mlp.0.weight 8x8
img.slot_attn.slot_attention.mlp.2.bias 8
img.slot_attn.slot_attention.mlp.2.weight 8x8
img.slot_attn.slot_attention.norm_inputs.bias 768
img.slot_attn.slot_attention.norm_inputs.weight 768
img.slot_attn.slot_attention.norm_mlp.bias 8
img.slot_attn.slot_attention.norm_mlp.weight 8
img.slot_attn.slot_attention.norm_slots.bias 8
img.slot_attn.slot_attention.norm_slots.weight 8
img.slot_attn.slot_attention.project_k.weight 8x768
img.slot_attn.slot_attention.project_q.weight 8x8
img.slot_attn.slot_attention.project_v.weight 8x768
img.slot_attn.slot_log_sigma 1x1x8
img.slot_attn.slot_mu 1x1x8
prog.embed_mlp.0.bias 16
prog.embed_mlp.0.weight 16x4
prog.embed_mlp.2.bias 4
prog.embed_mlp.2.weight 4x16
prog.embed_proj.bias 4
prog.embed_proj.weight 4x8
prog.encoder.blocks.0.attn.proj_k.weight 8x8
prog.encoder.blocks.0.attn.proj_o.weight 8x8
prog.encoder.blocks.0.attn.proj_q.weight 8x8
prog.encoder.blocks.0.attn.proj_v.weight 8x8
prog.encoder.blocks.0.attn_layer_norm.bias 8
prog.encoder.blocks.0.attn_layer_norm.weight 8
prog.encoder.blocks.0.ffn.0.bias 32
prog.encoder.blocks.0.ffn.0.weight 32x8
prog.encoder.blocks.0.ffn.2.bias 8
prog.encoder.blocks.0.ffn.2.weight 8x32
prog.encoder.blocks.0.ffn_layer_norm.bias 8
prog.encoder.blocks.0.ffn_layer_norm.weight 8
prog.encoder.blocks.1.attn.proj_k.weight 8x8
prog.encoder.blocks.1.attn.proj_o.weight 8x8
prog.encoder.blocks.1.attn.proj_q.weight 8x8
prog.encoder.blocks.1.attn.proj_v.weight 8x8
prog.encoder.blocks.1.attn_layer_norm.bias 8
prog.encoder.blocks.1.attn_layer_norm.weight 8
prog.encoder.blocks.1.ffn.0.bias 32
prog.encoder.blocks.1.ffn.0.weight 32x8
prog.encoder.blocks.1.ffn.2.bias 8
prog.encoder.blocks.1.ffn.2.weight 8x32
prog.encoder.blocks.1.ffn_layer_norm.bias 8
prog.encoder.blocks.1.ffn_layer_norm.weight 8
prog.encoder.layer_norm.bias 8
prog.encoder.layer_norm.weight 8
prog.material_embedding.weight 60x8
prog.norm_embed.bias 4
prog.norm_embed.weight 4
prog.pos_embedding.0.bias 8
prog.pos_embedding.0.weight 8x3
prog.program_embed.0.bias 8
prog.program_embed.0.weight 8x32
prog.program_embed.2.bias 8
prog.program_embed.2.weight 8x8
prog.shape_embedding.weight 4x8
prog.size_embedding.weight 3x8
"""


def _layout(sd, skip=()):
    return '\n'.join(f"{k} {'x'.join(map(str, v.shape)) or '-'}" for k, v in sorted(sd.items()) if not k.startswith(skip))


def test_vct_map_gives_the_official_layout_and_inverts():
    torch.manual_seed(0); m = VCT(VC)
    sd = V.vct_official_state_dict(m)
    assert _layout(sd) == OFFICIAL_VCT.strip()
    assert torch.equal(sd['vqvae.emb.weight'], m.tokenizer.vq.codebook.t())          # NearestEmbed keeps the codebook as [d, K]
    back = V.vct_from_official(sd, VCT(VC))
    assert all(torch.equal(back[k], v) for k, v in m.state_dict().items())


def test_vgpt_map_gives_the_official_layout_and_inverts():
    torch.manual_seed(0); m = VisualGPT(GC)
    sd = V.vgpt_official_state_dict(m)
    assert _layout(sd) == OFFICIAL_VGPT.strip()
    back = V.vgpt_from_official(sd, VisualGPT(GC))
    assert set(back) == set(m.state_dict()) and all(torch.equal(back[k], v) for k, v in m.state_dict().items())


def test_vgpt_map_computes_the_same_logits_as_gpt2_written_out():
    "GPT-2 (pre-LN, Conv1D weights x @ W + b, fused q|k|v, causal softmax, tanh GELU, tied head) from the mapped tensors = our logits"
    torch.manual_seed(0); m = VisualGPT(GC.replace(dropout=0.0)).eval()
    for p in m.parameters(): torch.nn.init.normal_(p, std=0.3)                        # (biases and norms away from 0 / 1)
    sd = {k[4:]: v for k, v in V.vgpt_official_state_dict(m).items()}
    tokens, labels = torch.randint(0, 6, (2, 6)), torch.tensor([0, 2])
    seq = torch.cat([labels[:, None] + 6, tokens[:, :-1]], 1)
    D, H, T = 8, 2, seq.shape[1]
    x = sd['transformer.wte.weight'][seq] + sd['transformer.wpe.weight'][:T]
    for i in range(GC.num_layers):
        w = lambda n: sd[f'transformer.h.{i}.{n}']
        h = F.layer_norm(x, (D,), w('ln_1.weight'), w('ln_1.bias'))
        q, k, v = (h @ w('attn.c_attn.weight') + w('attn.c_attn.bias')).split(D, -1)
        q, k, v = (t.view(2, T, H, D // H).transpose(1, 2) for t in (q, k, v))
        a = (q @ k.transpose(-1, -2) / math.sqrt(D // H)).masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float('-inf')).softmax(-1)
        x = x + (a @ v).transpose(1, 2).reshape(2, T, D) @ w('attn.c_proj.weight') + w('attn.c_proj.bias')
        h = F.layer_norm(x, (D,), w('ln_2.weight'), w('ln_2.bias'))
        x = x + F.gelu(h @ w('mlp.c_fc.weight') + w('mlp.c_fc.bias'), approximate='tanh') @ w('mlp.c_proj.weight') + w('mlp.c_proj.bias')
    x = F.layer_norm(x, (D,), sd['transformer.ln_f.weight'], sd['transformer.ln_f.bias'])
    with torch.no_grad(): ours = m.logits(tokens, labels)
    torch.testing.assert_close(ours, x @ sd['lm_head.weight'].t(), atol=1e-5, rtol=1e-5)


def test_nsi_map_gives_the_official_layout_and_inverts():
    torch.manual_seed(0); m = NSI(NC)
    sd = V.nsi_official_state_dict(m)
    assert _layout(sd, ('img.encoder.',)) == OFFICIAL_NSI.strip()
    assert sum(k.startswith('img.encoder.') for k in sd) == OFFICIAL_NSI_BACKBONE_TENSORS
    back = V.nsi_from_official(sd, NSI(NC))
    assert all(torch.equal(back[k], v) for k, v in m.state_dict().items())
