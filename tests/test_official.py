"""Official SLATE / SysBinder / NLoTM checkpoints: the layout written equals the official models' state dicts (recorded from
singhgautam/slate 06f63c5, singhgautam/sysbinder bd9d2a7, yfw/nlotm 0b4fb68), files load back into the same function,
checks against PyTorch's own GRUCell and TransformerEncoder, and hostile or mismatched files are refused by name."""
import argparse, os, subprocess, sys, warnings
from fractions import Fraction
from pathlib import Path
import pytest
import torch
import torch.nn as nn
from objcentric.core import CheckpointError
from objcentric.slots import SLATE, SlateConfig
from objcentric.sysbinder import SysBinder, SysBinderConfig
from objcentric.svq import SVQ, SVQConfig
from objcentric.alp import ALP, ALPConfig
from objcentric.official import (OFFICIAL_ARGS, read_official, load_official, save_official, official_state_dict, official_namespace,
                                 convert_official_state_dict, config_from_flags)

ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)
KW = dict(vocab_size=16, cnn_hidden=8, d_model=16, num_slots=3, slot_size=32, num_blocks=4, mlp_hidden=8, dec_layers=1, dec_heads=4, dropout=0.0)


def _models():
    "Small models of every official layout: name -> (model, layout)"
    torch.manual_seed(0)
    return dict(
        slate=(SLATE(image_size=16, vocab_size=16, num_slots=3, slot_size=16, mlp_hidden=24, slot_heads=2, joint_head_softmax=True,
                     d_model=16, num_dec_blocks=2, num_heads=2, dropout=0.0), None),
        sysbinder=(SysBinder(image_size=16, num_prototypes=5, proto_hidden=32, **KW), None),
        nlotm_none_learned=(SysBinder(image_size=64, num_prototypes=5, proto_hidden=32, slot_init='per_slot', **KW), 'nlotm'),
        nlotm_svq=(SVQ(image_size=64, codes_per_block=5, **KW), None),
        prior_blocks=(ALP(vocab_size=20, seq_len=12, num_blocks=4, d_model=16, num_layers=2, num_heads=2, ffn_dim=64, mask_blocks=False), None),
        prior_dvae=(ALP(vocab_size=16, seq_len=16, num_blocks=1, d_model=16, num_layers=1, num_heads=2, ffn_dim=64, mask_blocks=False), None))


def _fmt(sd):
    return '\n'.join(f"{k} {'x'.join(map(str, v.shape)) or '-'}{' bool' if v.dtype == torch.bool else ''}" for k, v in sorted(sd.items()))


# `OfficialModel(official_namespace(m)).state_dict()` of the models above, recorded from the official repositories
# (benchmarks/vs_official.py --check also loads official_state_dict into the official code itself, strictly)
_GOLDEN = dict(
    slate='''
dictionary.dictionary.weight 17x16
dvae.decoder.0.bias 64
dvae.decoder.0.m.weight 64x16x1x1
dvae.decoder.0.weight 64
dvae.decoder.1.bias 64
dvae.decoder.1.m.weight 64x64x3x3
dvae.decoder.1.weight 64
dvae.decoder.11.bias 3
dvae.decoder.11.weight 3x64x1x1
dvae.decoder.2.bias 64
dvae.decoder.2.m.weight 64x64x1x1
dvae.decoder.2.weight 64
dvae.decoder.3.bias 64
dvae.decoder.3.m.weight 64x64x1x1
dvae.decoder.3.weight 64
dvae.decoder.4.bias 256
dvae.decoder.4.m.weight 256x64x1x1
dvae.decoder.4.weight 256
dvae.decoder.6.bias 64
dvae.decoder.6.m.weight 64x64x3x3
dvae.decoder.6.weight 64
dvae.decoder.7.bias 64
dvae.decoder.7.m.weight 64x64x1x1
dvae.decoder.7.weight 64
dvae.decoder.8.bias 64
dvae.decoder.8.m.weight 64x64x1x1
dvae.decoder.8.weight 64
dvae.decoder.9.bias 256
dvae.decoder.9.m.weight 256x64x1x1
dvae.decoder.9.weight 256
dvae.encoder.0.bias 64
dvae.encoder.0.m.weight 64x3x4x4
dvae.encoder.0.weight 64
dvae.encoder.1.bias 64
dvae.encoder.1.m.weight 64x64x1x1
dvae.encoder.1.weight 64
dvae.encoder.2.bias 64
dvae.encoder.2.m.weight 64x64x1x1
dvae.encoder.2.weight 64
dvae.encoder.3.bias 64
dvae.encoder.3.m.weight 64x64x1x1
dvae.encoder.3.weight 64
dvae.encoder.4.bias 64
dvae.encoder.4.m.weight 64x64x1x1
dvae.encoder.4.weight 64
dvae.encoder.5.bias 64
dvae.encoder.5.m.weight 64x64x1x1
dvae.encoder.5.weight 64
dvae.encoder.6.bias 64
dvae.encoder.6.m.weight 64x64x1x1
dvae.encoder.6.weight 64
dvae.encoder.7.bias 16
dvae.encoder.7.weight 16x64x1x1
out.weight 16x16
positional_encoder.pe 1x17x16
slot_attn.layer_norm.bias 16
slot_attn.layer_norm.weight 16
slot_attn.mlp.0.bias 16
slot_attn.mlp.0.weight 16x16
slot_attn.mlp.2.bias 16
slot_attn.mlp.2.weight 16x16
slot_attn.slot_attention.gru.bias_hh 48
slot_attn.slot_attention.gru.bias_ih 48
slot_attn.slot_attention.gru.weight_hh 48x16
slot_attn.slot_attention.gru.weight_ih 48x16
slot_attn.slot_attention.mlp.0.bias 24
slot_attn.slot_attention.mlp.0.weight 24x16
slot_attn.slot_attention.mlp.2.bias 16
slot_attn.slot_attention.mlp.2.weight 16x24
slot_attn.slot_attention.norm_inputs.bias 16
slot_attn.slot_attention.norm_inputs.weight 16
slot_attn.slot_attention.norm_mlp.bias 16
slot_attn.slot_attention.norm_mlp.weight 16
slot_attn.slot_attention.norm_slots.bias 16
slot_attn.slot_attention.norm_slots.weight 16
slot_attn.slot_attention.project_k.weight 16x16
slot_attn.slot_attention.project_q.weight 16x16
slot_attn.slot_attention.project_v.weight 16x16
slot_attn.slot_log_sigma 1x1x16
slot_attn.slot_mu 1x1x16
slot_proj.weight 16x16
tf_dec.blocks.0.encoder_decoder_attn.proj_k.weight 16x16
tf_dec.blocks.0.encoder_decoder_attn.proj_o.weight 16x16
tf_dec.blocks.0.encoder_decoder_attn.proj_q.weight 16x16
tf_dec.blocks.0.encoder_decoder_attn.proj_v.weight 16x16
tf_dec.blocks.0.encoder_decoder_attn_layer_norm.bias 16
tf_dec.blocks.0.encoder_decoder_attn_layer_norm.weight 16
tf_dec.blocks.0.ffn.0.bias 64
tf_dec.blocks.0.ffn.0.weight 64x16
tf_dec.blocks.0.ffn.2.bias 16
tf_dec.blocks.0.ffn.2.weight 16x64
tf_dec.blocks.0.ffn_layer_norm.bias 16
tf_dec.blocks.0.ffn_layer_norm.weight 16
tf_dec.blocks.0.self_attn.proj_k.weight 16x16
tf_dec.blocks.0.self_attn.proj_o.weight 16x16
tf_dec.blocks.0.self_attn.proj_q.weight 16x16
tf_dec.blocks.0.self_attn.proj_v.weight 16x16
tf_dec.blocks.0.self_attn_layer_norm.bias 16
tf_dec.blocks.0.self_attn_layer_norm.weight 16
tf_dec.blocks.0.self_attn_mask 16x16 bool
tf_dec.blocks.1.encoder_decoder_attn.proj_k.weight 16x16
tf_dec.blocks.1.encoder_decoder_attn.proj_o.weight 16x16
tf_dec.blocks.1.encoder_decoder_attn.proj_q.weight 16x16
tf_dec.blocks.1.encoder_decoder_attn.proj_v.weight 16x16
tf_dec.blocks.1.encoder_decoder_attn_layer_norm.bias 16
tf_dec.blocks.1.encoder_decoder_attn_layer_norm.weight 16
tf_dec.blocks.1.ffn.0.bias 64
tf_dec.blocks.1.ffn.0.weight 64x16
tf_dec.blocks.1.ffn.2.bias 16
tf_dec.blocks.1.ffn.2.weight 16x64
tf_dec.blocks.1.ffn_layer_norm.bias 16
tf_dec.blocks.1.ffn_layer_norm.weight 16
tf_dec.blocks.1.self_attn.proj_k.weight 16x16
tf_dec.blocks.1.self_attn.proj_o.weight 16x16
tf_dec.blocks.1.self_attn.proj_q.weight 16x16
tf_dec.blocks.1.self_attn.proj_v.weight 16x16
tf_dec.blocks.1.self_attn_layer_norm.bias 16
tf_dec.blocks.1.self_attn_layer_norm.weight 16
tf_dec.blocks.1.self_attn_mask 16x16 bool
tf_dec.layer_norm.bias 16
tf_dec.layer_norm.weight 16
''',
    sysbinder='''
dvae.decoder.0.m.bias 64
dvae.decoder.0.m.weight 64x16x1x1
dvae.decoder.1.m.bias 64
dvae.decoder.1.m.weight 64x64x3x3
dvae.decoder.11.bias 3
dvae.decoder.11.weight 3x64x1x1
dvae.decoder.2.m.bias 64
dvae.decoder.2.m.weight 64x64x1x1
dvae.decoder.3.m.bias 64
dvae.decoder.3.m.weight 64x64x1x1
dvae.decoder.4.m.bias 256
dvae.decoder.4.m.weight 256x64x1x1
dvae.decoder.6.m.bias 64
dvae.decoder.6.m.weight 64x64x3x3
dvae.decoder.7.m.bias 64
dvae.decoder.7.m.weight 64x64x1x1
dvae.decoder.8.m.bias 64
dvae.decoder.8.m.weight 64x64x1x1
dvae.decoder.9.m.bias 256
dvae.decoder.9.m.weight 256x64x1x1
dvae.encoder.0.m.bias 64
dvae.encoder.0.m.weight 64x3x4x4
dvae.encoder.1.m.bias 64
dvae.encoder.1.m.weight 64x64x1x1
dvae.encoder.2.m.bias 64
dvae.encoder.2.m.weight 64x64x1x1
dvae.encoder.3.m.bias 64
dvae.encoder.3.m.weight 64x64x1x1
dvae.encoder.4.m.bias 64
dvae.encoder.4.m.weight 64x64x1x1
dvae.encoder.5.m.bias 64
dvae.encoder.5.m.weight 64x64x1x1
dvae.encoder.6.m.bias 64
dvae.encoder.6.m.weight 64x64x1x1
dvae.encoder.7.bias 16
dvae.encoder.7.weight 16x64x1x1
image_decoder.block_coupler.blocks.0.attn.proj_k.weight 16x16
image_decoder.block_coupler.blocks.0.attn.proj_o.weight 16x16
image_decoder.block_coupler.blocks.0.attn.proj_q.weight 16x16
image_decoder.block_coupler.blocks.0.attn.proj_v.weight 16x16
image_decoder.block_coupler.blocks.0.attn_layer_norm.bias 16
image_decoder.block_coupler.blocks.0.attn_layer_norm.weight 16
image_decoder.block_coupler.blocks.0.ffn.0.bias 64
image_decoder.block_coupler.blocks.0.ffn.0.weight 64x16
image_decoder.block_coupler.blocks.0.ffn.2.bias 16
image_decoder.block_coupler.blocks.0.ffn.2.weight 16x64
image_decoder.block_coupler.blocks.0.ffn_layer_norm.bias 16
image_decoder.block_coupler.blocks.0.ffn_layer_norm.weight 16
image_decoder.block_coupler.layer_norm.bias 16
image_decoder.block_coupler.layer_norm.weight 16
image_decoder.block_pos 1x1x64
image_decoder.block_pos_proj.0.b 1x64
image_decoder.block_pos_proj.0.w 4x16x16
image_decoder.block_pos_proj.2.b 1x64
image_decoder.block_pos_proj.2.w 4x16x16
image_decoder.bos 1x1x16
image_decoder.decoder_pos.pe 1x17x16
image_decoder.dict.dictionary.weight 16x16
image_decoder.head.weight 16x16
image_decoder.slot_proj.b 1x64
image_decoder.slot_proj.w 4x8x16
image_decoder.tf.blocks.0.encoder_decoder_attn.proj_k.weight 16x16
image_decoder.tf.blocks.0.encoder_decoder_attn.proj_o.weight 16x16
image_decoder.tf.blocks.0.encoder_decoder_attn.proj_q.weight 16x16
image_decoder.tf.blocks.0.encoder_decoder_attn.proj_v.weight 16x16
image_decoder.tf.blocks.0.encoder_decoder_attn_layer_norm.bias 16
image_decoder.tf.blocks.0.encoder_decoder_attn_layer_norm.weight 16
image_decoder.tf.blocks.0.ffn.0.bias 64
image_decoder.tf.blocks.0.ffn.0.weight 64x16
image_decoder.tf.blocks.0.ffn.2.bias 16
image_decoder.tf.blocks.0.ffn.2.weight 16x64
image_decoder.tf.blocks.0.ffn_layer_norm.bias 16
image_decoder.tf.blocks.0.ffn_layer_norm.weight 16
image_decoder.tf.blocks.0.self_attn.proj_k.weight 16x16
image_decoder.tf.blocks.0.self_attn.proj_o.weight 16x16
image_decoder.tf.blocks.0.self_attn.proj_q.weight 16x16
image_decoder.tf.blocks.0.self_attn.proj_v.weight 16x16
image_decoder.tf.blocks.0.self_attn_layer_norm.bias 16
image_decoder.tf.blocks.0.self_attn_layer_norm.weight 16
image_decoder.tf.blocks.0.self_attn_mask 16x16 bool
image_decoder.tf.layer_norm.bias 16
image_decoder.tf.layer_norm.weight 16
image_encoder.cnn.0.m.bias 8
image_encoder.cnn.0.m.weight 8x3x5x5
image_encoder.cnn.1.m.bias 8
image_encoder.cnn.1.m.weight 8x8x5x5
image_encoder.cnn.2.m.bias 8
image_encoder.cnn.2.m.weight 8x8x5x5
image_encoder.cnn.3.bias 16
image_encoder.cnn.3.weight 16x8x5x5
image_encoder.layer_norm.bias 16
image_encoder.layer_norm.weight 16
image_encoder.mlp.0.bias 16
image_encoder.mlp.0.weight 16x16
image_encoder.mlp.2.bias 16
image_encoder.mlp.2.weight 16x16
image_encoder.pos.pe 1x4x8x8
image_encoder.pos.projection.bias 16
image_encoder.pos.projection.weight 16x4x1x1
image_encoder.sysbinder.gru.gru.bias_hh 96
image_encoder.sysbinder.gru.gru.bias_ih 96
image_encoder.sysbinder.gru.gru.weight_hh 96x32
image_encoder.sysbinder.gru.gru.weight_ih 96x32
image_encoder.sysbinder.gru.mask_hh 96x32
image_encoder.sysbinder.gru.mask_hx 96x32
image_encoder.sysbinder.mlp.0.b 1x8
image_encoder.sysbinder.mlp.0.w 4x8x2
image_encoder.sysbinder.mlp.2.b 1x32
image_encoder.sysbinder.mlp.2.w 4x2x8
image_encoder.sysbinder.norm_inputs.bias 16
image_encoder.sysbinder.norm_inputs.weight 16
image_encoder.sysbinder.norm_slots.bias 32
image_encoder.sysbinder.norm_slots.weight 32
image_encoder.sysbinder.project_k.weight 32x16
image_encoder.sysbinder.project_q.weight 32x32
image_encoder.sysbinder.project_v.weight 32x16
image_encoder.sysbinder.prototype_memory.mem_params 1x5x4x8
image_encoder.sysbinder.prototype_memory.mem_proj.0.bias 32
image_encoder.sysbinder.prototype_memory.mem_proj.0.weight 32x8
image_encoder.sysbinder.prototype_memory.mem_proj.2.bias 32
image_encoder.sysbinder.prototype_memory.mem_proj.2.weight 32x32
image_encoder.sysbinder.prototype_memory.mem_proj.4.bias 32
image_encoder.sysbinder.prototype_memory.mem_proj.4.weight 32x32
image_encoder.sysbinder.prototype_memory.mem_proj.6.bias 8
image_encoder.sysbinder.prototype_memory.mem_proj.6.weight 8x32
image_encoder.sysbinder.slot_log_sigma 1x1x32
image_encoder.sysbinder.slot_mu 1x1x32
''',
    nlotm_none_learned='''
dvae.decoder.0.m.bias 64
dvae.decoder.0.m.weight 64x16x1x1
dvae.decoder.1.m.bias 64
dvae.decoder.1.m.weight 64x64x3x3
dvae.decoder.11.bias 3
dvae.decoder.11.weight 3x64x1x1
dvae.decoder.2.m.bias 64
dvae.decoder.2.m.weight 64x64x1x1
dvae.decoder.3.m.bias 64
dvae.decoder.3.m.weight 64x64x1x1
dvae.decoder.4.m.bias 256
dvae.decoder.4.m.weight 256x64x1x1
dvae.decoder.6.m.bias 64
dvae.decoder.6.m.weight 64x64x3x3
dvae.decoder.7.m.bias 64
dvae.decoder.7.m.weight 64x64x1x1
dvae.decoder.8.m.bias 64
dvae.decoder.8.m.weight 64x64x1x1
dvae.decoder.9.m.bias 256
dvae.decoder.9.m.weight 256x64x1x1
dvae.encoder.0.m.bias 64
dvae.encoder.0.m.weight 64x3x4x4
dvae.encoder.1.m.bias 64
dvae.encoder.1.m.weight 64x64x1x1
dvae.encoder.2.m.bias 64
dvae.encoder.2.m.weight 64x64x1x1
dvae.encoder.3.m.bias 64
dvae.encoder.3.m.weight 64x64x1x1
dvae.encoder.4.m.bias 64
dvae.encoder.4.m.weight 64x64x1x1
dvae.encoder.5.m.bias 64
dvae.encoder.5.m.weight 64x64x1x1
dvae.encoder.6.m.bias 64
dvae.encoder.6.m.weight 64x64x1x1
dvae.encoder.7.bias 16
dvae.encoder.7.weight 16x64x1x1
image_decoder.block_coupler.blocks.0.attn.proj_k.weight 16x16
image_decoder.block_coupler.blocks.0.attn.proj_o.weight 16x16
image_decoder.block_coupler.blocks.0.attn.proj_q.weight 16x16
image_decoder.block_coupler.blocks.0.attn.proj_v.weight 16x16
image_decoder.block_coupler.blocks.0.attn_layer_norm.bias 16
image_decoder.block_coupler.blocks.0.attn_layer_norm.weight 16
image_decoder.block_coupler.blocks.0.ffn.0.bias 64
image_decoder.block_coupler.blocks.0.ffn.0.weight 64x16
image_decoder.block_coupler.blocks.0.ffn.2.bias 16
image_decoder.block_coupler.blocks.0.ffn.2.weight 16x64
image_decoder.block_coupler.blocks.0.ffn_layer_norm.bias 16
image_decoder.block_coupler.blocks.0.ffn_layer_norm.weight 16
image_decoder.block_coupler.layer_norm.bias 16
image_decoder.block_coupler.layer_norm.weight 16
image_decoder.block_pos 1x1x64
image_decoder.block_pos_proj.0.b 1x64
image_decoder.block_pos_proj.0.w 4x16x16
image_decoder.block_pos_proj.2.b 1x64
image_decoder.block_pos_proj.2.w 4x16x16
image_decoder.bos 1x1x16
image_decoder.decoder_pos.pe 1x257x16
image_decoder.dict.dictionary.weight 16x16
image_decoder.head.weight 16x16
image_decoder.slot_proj.b 1x64
image_decoder.slot_proj.w 4x8x16
image_decoder.tf.blocks.0.encoder_decoder_attn.proj_k.weight 16x16
image_decoder.tf.blocks.0.encoder_decoder_attn.proj_o.weight 16x16
image_decoder.tf.blocks.0.encoder_decoder_attn.proj_q.weight 16x16
image_decoder.tf.blocks.0.encoder_decoder_attn.proj_v.weight 16x16
image_decoder.tf.blocks.0.encoder_decoder_attn_layer_norm.bias 16
image_decoder.tf.blocks.0.encoder_decoder_attn_layer_norm.weight 16
image_decoder.tf.blocks.0.ffn.0.bias 64
image_decoder.tf.blocks.0.ffn.0.weight 64x16
image_decoder.tf.blocks.0.ffn.2.bias 16
image_decoder.tf.blocks.0.ffn.2.weight 16x64
image_decoder.tf.blocks.0.ffn_layer_norm.bias 16
image_decoder.tf.blocks.0.ffn_layer_norm.weight 16
image_decoder.tf.blocks.0.self_attn.proj_k.weight 16x16
image_decoder.tf.blocks.0.self_attn.proj_o.weight 16x16
image_decoder.tf.blocks.0.self_attn.proj_q.weight 16x16
image_decoder.tf.blocks.0.self_attn.proj_v.weight 16x16
image_decoder.tf.blocks.0.self_attn_layer_norm.bias 16
image_decoder.tf.blocks.0.self_attn_layer_norm.weight 16
image_decoder.tf.layer_norm.bias 16
image_decoder.tf.layer_norm.weight 16
image_encoder.cnn.0.m.bias 8
image_encoder.cnn.0.m.weight 8x3x5x5
image_encoder.cnn.1.m.bias 8
image_encoder.cnn.1.m.weight 8x8x5x5
image_encoder.cnn.2.m.bias 8
image_encoder.cnn.2.m.weight 8x8x5x5
image_encoder.cnn.3.bias 16
image_encoder.cnn.3.weight 16x8x5x5
image_encoder.layer_norm.bias 16
image_encoder.layer_norm.weight 16
image_encoder.mlp.0.bias 16
image_encoder.mlp.0.weight 16x16
image_encoder.mlp.2.bias 16
image_encoder.mlp.2.weight 16x16
image_encoder.nlotm.gru.gru.bias_hh 96
image_encoder.nlotm.gru.gru.bias_ih 96
image_encoder.nlotm.gru.gru.weight_hh 96x32
image_encoder.nlotm.gru.gru.weight_ih 96x32
image_encoder.nlotm.gru.mask_hh 96x32
image_encoder.nlotm.gru.mask_hx 96x32
image_encoder.nlotm.learned_init_slots.weight 3x32
image_encoder.nlotm.mlp.0.b 1x8
image_encoder.nlotm.mlp.0.w 4x8x2
image_encoder.nlotm.mlp.2.b 1x32
image_encoder.nlotm.mlp.2.w 4x2x8
image_encoder.nlotm.norm_inputs.bias 16
image_encoder.nlotm.norm_inputs.weight 16
image_encoder.nlotm.norm_slots.bias 32
image_encoder.nlotm.norm_slots.weight 32
image_encoder.nlotm.project_k.weight 32x16
image_encoder.nlotm.project_q.weight 32x32
image_encoder.nlotm.project_v.weight 32x16
image_encoder.nlotm.prototype_memory.mem_params 1x5x4x8
image_encoder.nlotm.prototype_memory.mem_proj.0.bias 32
image_encoder.nlotm.prototype_memory.mem_proj.0.weight 32x8
image_encoder.nlotm.prototype_memory.mem_proj.2.bias 32
image_encoder.nlotm.prototype_memory.mem_proj.2.weight 32x32
image_encoder.nlotm.prototype_memory.mem_proj.4.bias 32
image_encoder.nlotm.prototype_memory.mem_proj.4.weight 32x32
image_encoder.nlotm.prototype_memory.mem_proj.6.bias 8
image_encoder.nlotm.prototype_memory.mem_proj.6.weight 8x32
image_encoder.nlotm.slot_log_sigma 1x1x32
image_encoder.nlotm.slot_mu 1x1x32
image_encoder.pos.pe 1x4x64x64
image_encoder.pos.projection.bias 16
image_encoder.pos.projection.weight 16x4x1x1
''',
    nlotm_svq='''
dvae.decoder.0.m.bias 64
dvae.decoder.0.m.weight 64x16x1x1
dvae.decoder.1.m.bias 64
dvae.decoder.1.m.weight 64x64x3x3
dvae.decoder.11.bias 3
dvae.decoder.11.weight 3x64x1x1
dvae.decoder.2.m.bias 64
dvae.decoder.2.m.weight 64x64x1x1
dvae.decoder.3.m.bias 64
dvae.decoder.3.m.weight 64x64x1x1
dvae.decoder.4.m.bias 256
dvae.decoder.4.m.weight 256x64x1x1
dvae.decoder.6.m.bias 64
dvae.decoder.6.m.weight 64x64x3x3
dvae.decoder.7.m.bias 64
dvae.decoder.7.m.weight 64x64x1x1
dvae.decoder.8.m.bias 64
dvae.decoder.8.m.weight 64x64x1x1
dvae.decoder.9.m.bias 256
dvae.decoder.9.m.weight 256x64x1x1
dvae.encoder.0.m.bias 64
dvae.encoder.0.m.weight 64x3x4x4
dvae.encoder.1.m.bias 64
dvae.encoder.1.m.weight 64x64x1x1
dvae.encoder.2.m.bias 64
dvae.encoder.2.m.weight 64x64x1x1
dvae.encoder.3.m.bias 64
dvae.encoder.3.m.weight 64x64x1x1
dvae.encoder.4.m.bias 64
dvae.encoder.4.m.weight 64x64x1x1
dvae.encoder.5.m.bias 64
dvae.encoder.5.m.weight 64x64x1x1
dvae.encoder.6.m.bias 64
dvae.encoder.6.m.weight 64x64x1x1
dvae.encoder.7.bias 16
dvae.encoder.7.weight 16x64x1x1
image_decoder.block_coupler.blocks.0.attn.proj_k.weight 16x16
image_decoder.block_coupler.blocks.0.attn.proj_o.weight 16x16
image_decoder.block_coupler.blocks.0.attn.proj_q.weight 16x16
image_decoder.block_coupler.blocks.0.attn.proj_v.weight 16x16
image_decoder.block_coupler.blocks.0.attn_layer_norm.bias 16
image_decoder.block_coupler.blocks.0.attn_layer_norm.weight 16
image_decoder.block_coupler.blocks.0.ffn.0.bias 64
image_decoder.block_coupler.blocks.0.ffn.0.weight 64x16
image_decoder.block_coupler.blocks.0.ffn.2.bias 16
image_decoder.block_coupler.blocks.0.ffn.2.weight 16x64
image_decoder.block_coupler.blocks.0.ffn_layer_norm.bias 16
image_decoder.block_coupler.blocks.0.ffn_layer_norm.weight 16
image_decoder.block_coupler.layer_norm.bias 16
image_decoder.block_coupler.layer_norm.weight 16
image_decoder.block_pos 1x1x64
image_decoder.block_pos_proj.0.b 1x64
image_decoder.block_pos_proj.0.w 4x16x16
image_decoder.block_pos_proj.2.b 1x64
image_decoder.block_pos_proj.2.w 4x16x16
image_decoder.bos 1x1x16
image_decoder.decoder_pos.pe 1x257x16
image_decoder.dict.dictionary.weight 16x16
image_decoder.head.weight 16x16
image_decoder.slot_proj.b 1x64
image_decoder.slot_proj.w 4x8x16
image_decoder.tf.blocks.0.encoder_decoder_attn.proj_k.weight 16x16
image_decoder.tf.blocks.0.encoder_decoder_attn.proj_o.weight 16x16
image_decoder.tf.blocks.0.encoder_decoder_attn.proj_q.weight 16x16
image_decoder.tf.blocks.0.encoder_decoder_attn.proj_v.weight 16x16
image_decoder.tf.blocks.0.encoder_decoder_attn_layer_norm.bias 16
image_decoder.tf.blocks.0.encoder_decoder_attn_layer_norm.weight 16
image_decoder.tf.blocks.0.ffn.0.bias 64
image_decoder.tf.blocks.0.ffn.0.weight 64x16
image_decoder.tf.blocks.0.ffn.2.bias 16
image_decoder.tf.blocks.0.ffn.2.weight 16x64
image_decoder.tf.blocks.0.ffn_layer_norm.bias 16
image_decoder.tf.blocks.0.ffn_layer_norm.weight 16
image_decoder.tf.blocks.0.self_attn.proj_k.weight 16x16
image_decoder.tf.blocks.0.self_attn.proj_o.weight 16x16
image_decoder.tf.blocks.0.self_attn.proj_q.weight 16x16
image_decoder.tf.blocks.0.self_attn.proj_v.weight 16x16
image_decoder.tf.blocks.0.self_attn_layer_norm.bias 16
image_decoder.tf.blocks.0.self_attn_layer_norm.weight 16
image_decoder.tf.layer_norm.bias 16
image_decoder.tf.layer_norm.weight 16
image_encoder.cnn.0.m.bias 8
image_encoder.cnn.0.m.weight 8x3x5x5
image_encoder.cnn.1.m.bias 8
image_encoder.cnn.1.m.weight 8x8x5x5
image_encoder.cnn.2.m.bias 8
image_encoder.cnn.2.m.weight 8x8x5x5
image_encoder.cnn.3.bias 16
image_encoder.cnn.3.weight 16x8x5x5
image_encoder.layer_norm.bias 16
image_encoder.layer_norm.weight 16
image_encoder.mlp.0.bias 16
image_encoder.mlp.0.weight 16x16
image_encoder.mlp.2.bias 16
image_encoder.mlp.2.weight 16x16
image_encoder.nlotm.gru.gru.bias_hh 96
image_encoder.nlotm.gru.gru.bias_ih 96
image_encoder.nlotm.gru.gru.weight_hh 96x32
image_encoder.nlotm.gru.gru.weight_ih 96x32
image_encoder.nlotm.gru.mask_hh 96x32
image_encoder.nlotm.gru.mask_hx 96x32
image_encoder.nlotm.mlp.0.b 1x8
image_encoder.nlotm.mlp.0.w 4x8x2
image_encoder.nlotm.mlp.2.b 1x32
image_encoder.nlotm.mlp.2.w 4x2x8
image_encoder.nlotm.norm_inputs.bias 16
image_encoder.nlotm.norm_inputs.weight 16
image_encoder.nlotm.norm_slots.bias 32
image_encoder.nlotm.norm_slots.weight 32
image_encoder.nlotm.project_k.weight 32x16
image_encoder.nlotm.project_q.weight 32x32
image_encoder.nlotm.project_v.weight 32x16
image_encoder.nlotm.prototype_memory._ema_cluster_size 20
image_encoder.nlotm.prototype_memory._ema_w 20x8
image_encoder.nlotm.prototype_memory.mem.weight 20x8
image_encoder.nlotm.slot_log_sigma 1x1x32
image_encoder.nlotm.slot_mu 1x1x32
image_encoder.pos.pe 1x4x64x64
image_encoder.pos.projection.bias 16
image_encoder.pos.projection.weight 16x4x1x1
''',
    prior_blocks='''
bos 1x1x16
embedding.weight 20x16
head.weight 20x16
pos.pe 1x12x16
tf.layers.0.linear1.bias 64
tf.layers.0.linear1.weight 64x16
tf.layers.0.linear2.bias 16
tf.layers.0.linear2.weight 16x64
tf.layers.0.norm1.bias 16
tf.layers.0.norm1.weight 16
tf.layers.0.norm2.bias 16
tf.layers.0.norm2.weight 16
tf.layers.0.self_attn.in_proj_bias 48
tf.layers.0.self_attn.in_proj_weight 48x16
tf.layers.0.self_attn.out_proj.bias 16
tf.layers.0.self_attn.out_proj.weight 16x16
tf.layers.1.linear1.bias 64
tf.layers.1.linear1.weight 64x16
tf.layers.1.linear2.bias 16
tf.layers.1.linear2.weight 16x64
tf.layers.1.norm1.bias 16
tf.layers.1.norm1.weight 16
tf.layers.1.norm2.bias 16
tf.layers.1.norm2.weight 16
tf.layers.1.self_attn.in_proj_bias 48
tf.layers.1.self_attn.in_proj_weight 48x16
tf.layers.1.self_attn.out_proj.bias 16
tf.layers.1.self_attn.out_proj.weight 16x16
''',
    prior_dvae='''
bos 1x1x16
embedding.weight 16x16
head.weight 16x16
pos.pe 1x16x16
tf.layers.0.linear1.bias 64
tf.layers.0.linear1.weight 64x16
tf.layers.0.linear2.bias 16
tf.layers.0.linear2.weight 16x64
tf.layers.0.norm1.bias 16
tf.layers.0.norm1.weight 16
tf.layers.0.norm2.bias 16
tf.layers.0.norm2.weight 16
tf.layers.0.self_attn.in_proj_bias 48
tf.layers.0.self_attn.in_proj_weight 48x16
tf.layers.0.self_attn.out_proj.bias 16
tf.layers.0.self_attn.out_proj.weight 16x16
''',
)


@pytest.mark.parametrize('name', list(_GOLDEN))
def test_the_layout_is_the_official_one(name):
    m, layout = _models()[name]
    assert _fmt(official_state_dict(m, layout)) == _GOLDEN[name].strip()


def _clone(m):
    "A fresh copy with dropout off (not deepcopy: a deep copy of a dense BlockGRUCell drops its gradient-masking hooks)"
    c = type(m)(m.cfg); c.load_state_dict(m.state_dict())
    for x in c.modules():
        if isinstance(x, nn.Dropout): x.p = 0.0
    return c


def _blocks(W, M):
    "The diagonal blocks of a dense GRU tensor, in the grouped layout"
    from objcentric.official import _gru_blocks
    return _gru_blocks(W, M)


def _step(m, batch, seed=1):
    "Loss, gradients and codebook after one training forward/backward under a fixed seed"
    m.train(); m.zero_grad(); torch.manual_seed(seed)
    o = m(batch); o['loss'].backward()
    return float(o['loss'].detach()), {k: p.grad.clone() for k, p in m.named_parameters() if p.grad is not None}, \
        (m.vq.codebook.clone() if isinstance(m, SVQ) else None)


def _assert_same_step(a, b, batch):
    (la, ga, ca), (lb, gb, cb) = _step(_clone(a), batch), _step(_clone(b), batch)
    assert abs(la - lb) <= 1e-5 * abs(la), (la, lb)
    assert ga.keys() == gb.keys()
    for k in ga:
        g, h = ga[k], gb[k]
        if g.shape != h.shape: g, h = (_blocks(g, a.cfg.num_blocks), h) if g.dim() < h.dim() else (g, _blocks(h, a.cfg.num_blocks))
        torch.testing.assert_close(g, h, atol=1e-5 * max(1., float(g.abs().max())), rtol=1e-5, msg=k)
    if ca is not None: torch.testing.assert_close(ca, cb, atol=1e-6, rtol=1e-5)


def _image(m, B=2):
    return torch.rand(B, 3, m.cfg.image_size, m.cfg.image_size, generator=torch.Generator().manual_seed(4))


@pytest.mark.parametrize('name', ['slate', 'sysbinder', 'nlotm_none_learned', 'nlotm_svq'])
@pytest.mark.parametrize('storage', ['dense', 'grouped'])
def test_a_written_checkpoint_loads_into_the_same_function(tmp_path, name, storage):
    m, layout = _models()[name]
    if isinstance(m, SysBinder): m = type(m)(m.cfg.replace(gru_storage='grouped' if storage == 'dense' else 'dense'))  # across storages
    f = save_official(m, tmp_path / 'checkpoint.pt.tar', layout=layout)
    ck = read_official(f)
    assert ck.layout == (layout or dict(slate='slate', sysbinder='sysbinder').get(name, 'nlotm'))
    assert {'epoch', 'best_val_loss', 'best_epoch'} <= set(ck.meta) and isinstance(ck.args, dict)
    b = load_official(f, gru_storage=storage)
    assert type(b) is type(m)
    assert b.cfg == (m.cfg.replace(gru_storage=storage) if isinstance(m, SysBinder) else m.cfg)
    x = _image(m)
    _assert_same_step(m, b, dict(image=x))
    g = lambda: torch.Generator().manual_seed(3)
    m.eval(); b.eval()
    e, e2 = m.encode(x, g()), b.encode(x, g())
    torch.testing.assert_close(e.slots, e2.slots, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(e.attn, e2.attn, atol=1e-6, rtol=1e-5)
    if e.indices is not None: assert torch.equal(e.indices, e2.indices)
    assert torch.equal(m.decode(e.slots[:1]), b.decode(e.slots[:1]))


@pytest.mark.parametrize('name', ['prior_blocks', 'prior_dvae'])
def test_a_prior_loads_with_its_flags(tmp_path, name):
    p, _ = _models()[name]
    f = save_official(p, tmp_path / 'best_model.pt', kind='best_model')
    ns = official_namespace(p)
    args = dict(prior_type=ns.prior_type, prior_num_heads=2, **(dict(num_blocks=4) if p.cfg.num_blocks > 1 else {}))
    with warnings.catch_warnings(): warnings.simplefilter('error'); q = load_official(f, args=args)
    assert q.cfg == p.cfg.replace(dropout=0.1)                       # the default prior_dropout: a bare state dict has no flags
    z = torch.randint(0, p.cfg.vocab_size // p.cfg.num_blocks, (3, p.cfg.seq_len)) + \
        (torch.arange(p.cfg.seq_len) % p.cfg.num_blocks) * (p.cfg.vocab_size // p.cfg.num_blocks)
    torch.testing.assert_close(p.eval().logits(z), q.logits(z))
    if p.cfg.num_blocks > 1:
        with pytest.raises(CheckpointError, match='num_blocks=3'): load_official(f, args=dict(num_blocks=3))   # 20 codes are not 3 blocks


def test_a_bare_state_dict_says_which_flags_it_assumed(tmp_path):
    m, _ = _models()['nlotm_svq']
    f = save_official(m, tmp_path / 'best_model.pt', kind='best_model')
    with pytest.warns(UserWarning, match=r"num_slots=4, num_iterations=3, num_decoder_heads=4 taken from the official defaults"):
        b = load_official(f)
    assert b.cfg.num_slots == 4 and b.cfg.dropout == 0.1            # the defaults, since the weights do not fix them
    b = load_official(f, args=argparse.Namespace(num_slots=3, num_iterations=3, num_decoder_heads=4, dropout=0.0), warn=True)
    assert b.cfg == m.cfg.replace(gru_storage='dense')


def test_adam_leftovers_off_the_gru_diagonal_are_ignored(tmp_path):
    m, _ = _models()['sysbinder']
    sd = official_state_dict(m)
    k, mask = 'image_encoder.sysbinder.gru.gru.', sd['image_encoder.sysbinder.gru.mask_hh']
    noisy = dict(sd)
    for w in ('weight_ih', 'weight_hh'): noisy[k + w] = sd[k + w] + torch.randn_like(sd[k + w]) * (1 - mask)
    torch.save(sd, tmp_path / 'clean.pt'); torch.save(noisy, tmp_path / 'noisy.pt')
    args = dict(num_slots=3, num_decoder_heads=4, dropout=0.0)
    x = _image(m)
    for storage in ('dense', 'grouped'):
        a, b = (load_official(tmp_path / f, args=args, gru_storage=storage, warn=False) for f in ('clean.pt', 'noisy.pt'))
        _assert_same_step(a, b, dict(image=x))
        assert float((b.binder.gru.to_dense().weight_hh.detach() * (1 - mask)).abs().max()) == 0


def test_the_block_gru_is_a_masked_torch_grucell():
    m, _ = _models()['sysbinder']
    sd = official_state_dict(m)
    k, mask = 'image_encoder.sysbinder.gru.gru.', sd['image_encoder.sysbinder.gru.mask_hh']
    for w in ('weight_ih', 'weight_hh'): sd[k + w] = torch.randn_like(sd[k + w])          # dense, off-diagonal included
    ref = nn.GRUCell(32, 32)
    with torch.no_grad():
        for w in ('weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'): getattr(ref, w).copy_(sd[k + w] * (mask if 'weight' in w else 1))
    u, h = torch.randn(5, 32), torch.randn(5, 32)
    for storage in ('dense', 'grouped'):
        mm = SysBinder(m.cfg.replace(gru_storage=storage))
        mm.load_state_dict(convert_official_state_dict(sd, mm))
        torch.testing.assert_close(mm.binder.gru(u, h), ref(u, h), atol=1e-6, rtol=1e-5)


def test_the_prior_is_torchs_transformer_encoder():
    p, _ = _models()['prior_blocks']
    sd = official_state_dict(p.eval())
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 64, 0.0, batch_first=True), 2, enable_nested_tensor=False).eval()
    enc.load_state_dict({k[3:]: v for k, v in sd.items() if k.startswith('tf.')})
    z = torch.randint(0, 20, (3, 12))
    h = torch.cat([sd['bos'].expand(3, 1, 16), nn.functional.embedding(z, sd['embedding.weight'])], 1)[:, :-1] * 16 ** 0.5 + sd['pos.pe']
    ref = enc(h, mask=nn.Transformer.generate_square_subsequent_mask(12)) @ sd['head.weight'].T
    torch.testing.assert_close(p.logits(z), ref, atol=1e-5, rtol=1e-5)


class _Evil:
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.system, (f'touch {self.marker}',))


def test_a_pickled_callable_is_refused_naming_the_file(tmp_path):
    m, _ = _models()['nlotm_svq']
    f = tmp_path / 'evil.pt.tar'
    torch.save(dict(model=official_state_dict(m), args=_Evil(tmp_path / 'pwned')), f)
    with pytest.raises(CheckpointError, match='evil.pt.tar'): load_official(f)
    assert not (tmp_path / 'pwned').exists()
    torch.save(dict(model=official_state_dict(m), args=Fraction(1, 3)), tmp_path / 'odd.pt.tar')   # harmless, but not allowed
    with pytest.raises(CheckpointError, match='odd.pt.tar'): read_official(tmp_path / 'odd.pt.tar')
    torch.save(_Evil(tmp_path / 'pwned'), tmp_path / 'evil2.pt')                                 # the whole file a callable
    with pytest.raises(CheckpointError, match='evil2.pt'): read_official(tmp_path / 'evil2.pt')
    assert not (tmp_path / 'pwned').exists()


def test_bad_files_are_named(tmp_path):
    m, _ = _models()['nlotm_svq']
    with pytest.raises(CheckpointError, match='does not exist'): read_official(tmp_path / 'nope.pt')
    torch.save([1, 2], tmp_path / 'list.pt')
    with pytest.raises(CheckpointError, match='expected a dict'): read_official(tmp_path / 'list.pt')
    torch.save(dict(conv=torch.ones(1)), tmp_path / 'other.pt')
    with pytest.raises(CheckpointError, match='not an official SLATE / SysBinder / NLoTM'): read_official(tmp_path / 'other.pt')
    f = save_official(m, tmp_path / 'ck.pt.tar', with_args=False)
    with pytest.raises(CheckpointError, match='args.vocab_size = 4096, but the weights were trained with vocab_size = 16'):
        load_official(f, args=dict(vocab_size=4096))
    sd = official_state_dict(m); del sd['image_decoder.head.weight']; torch.save(sd, tmp_path / 'cut.pt')
    with pytest.raises(CheckpointError, match="needs the key 'image_decoder.head.weight'"): load_official(tmp_path / 'cut.pt')
    sd = official_state_dict(m); del sd['image_encoder.nlotm.project_k.weight']; torch.save(sd, tmp_path / 'cut.pt')
    with pytest.raises(CheckpointError, match='missing keys: image_encoder.nlotm.project_k.weight'): load_official(tmp_path / 'cut.pt', warn=False)
    sd = official_state_dict(m); sd['image_encoder.nlotm.extra'] = torch.ones(1); torch.save(sd, tmp_path / 'more.pt')
    with pytest.raises(CheckpointError, match='unexpected keys: image_encoder.nlotm.extra'): load_official(tmp_path / 'more.pt', warn=False)
    sd = official_state_dict(m); sd['image_encoder.nlotm.project_q.weight'] = torch.ones(32, 31); torch.save(sd, tmp_path / 'bad.pt')
    with pytest.raises(CheckpointError, match=r'image_encoder.nlotm.project_q.weight has shape \(32, 31\)'): load_official(tmp_path / 'bad.pt', warn=False)
    sd = {'module.' + k: v for k, v in official_state_dict(m).items()}; torch.save(sd, tmp_path / 'dp.pt')   # a DataParallel wrapper
    assert read_official(tmp_path / 'dp.pt').layout == 'nlotm'


def test_what_the_official_code_cannot_build_is_refused_by_field():
    for model, text in ((SLATE(implicit_grad=True), 'cfg.implicit_grad = True'), (SLATE(token_dropout=0.5), 'cfg.token_dropout = 0.5'),
                        (SLATE(dvae_hidden=32), 'cfg.dvae_hidden = 32'), (SLATE(slot_heads=2), 'cfg.joint_head_softmax = False'),
                        (ALP(), 'cfg.mask_blocks = True'), (ALP(mask_blocks=False, ffn_dim=512), 'cfg.ffn_dim = 512')):
        with pytest.raises(ValueError, match=text.replace('.', r'\.')): official_namespace(model)
    with torch.device('meta'):
        for cfg, layout, text in ((SysBinderConfig(cnn_layers=3), None, 'cfg.cnn_layers = 3'), (SysBinderConfig(dec_heads=2), None, 'cfg.dec_heads = 2'),
                                  (SysBinderConfig(slot_init='per_slot'), 'sysbinder', "cfg.slot_init = 'per_slot'"),
                                  (SysBinderConfig(proto_hidden=512), None, 'cfg.proto_hidden = 512'),
                                  (SVQConfig(image_size=96), None, 'cfg.image_size = 96'), (SVQConfig(ema_decay=0.9), None, 'cfg.ema_decay = 0.9')):
            cls = SVQ if isinstance(cfg, SVQConfig) else SysBinder
            with pytest.raises(ValueError, match=text.replace('.', r'\.')): official_namespace(cls(cfg), layout)
    f = dict(OFFICIAL_ARGS['nlotm'])
    with pytest.raises(CheckpointError, match='num_decoder_heads = 8'): config_from_flags(dict(f, num_decoder_heads=8), 'nlotm')
    with pytest.raises(CheckpointError, match='image_size = 96'): config_from_flags(dict(f, image_size=96), 'nlotm')
    with pytest.raises(CheckpointError, match='prior_norm_first = True'): config_from_flags(dict(OFFICIAL_ARGS['nlotm_prior'], prior_norm_first=True), 'nlotm_prior')


def test_the_official_defaults_are_the_paper_configs():
    assert config_from_flags(OFFICIAL_ARGS['slate'], 'slate') == SlateConfig()
    assert config_from_flags(OFFICIAL_ARGS['sysbinder'], 'sysbinder', 'grouped') == SysBinderConfig()
    assert config_from_flags(OFFICIAL_ARGS['nlotm'], 'nlotm', 'grouped') == SVQConfig()
    assert config_from_flags(dict(OFFICIAL_ARGS['nlotm'], vq_type='none', num_blocks=8), 'nlotm', 'grouped') == SysBinderConfig()
    assert config_from_flags(OFFICIAL_ARGS['nlotm_prior'], 'nlotm_prior') == ALPConfig(mask_blocks=False)


@pytest.mark.parametrize('name', ['slate', 'nlotm_svq', 'prior_blocks'])
def test_a_training_checkpoint_resumes_in_the_official_script(tmp_path, name):
    m, layout = _models()[name]
    ck = torch.load(save_official(m, tmp_path / 'checkpoint.pt.tar', layout=layout, epoch=7), weights_only=False)
    extra = dict(slate={'stagnation_counter', 'lr_decay_factor'}, nlotm_svq={'scaler'}, prior_blocks={'scaler'})[name]
    assert set(ck) == {'epoch', 'best_val_loss', 'best_epoch', 'model', 'optimizer', 'args'} | extra and ck['epoch'] == 7
    assert isinstance(ck['args'], argparse.Namespace)
    names = [k for k in ck['model'] if not k.endswith('_ema_cluster_size')]   # the official Adam gets every nn.Parameter, by name
    sel = dict(slate=[lambda n: 'dvae' in n, lambda n: 'dvae' not in n], prior_blocks=[lambda n: True]).get(
        name, [lambda n: 'dvae' in n, lambda n: 'image_encoder' in n, lambda n: 'image_decoder' in n])
    opt = torch.optim.Adam([dict(params=[torch.zeros(1, requires_grad=True) for n in names if s(n)]) for s in sel])
    opt.load_state_dict(ck['optimizer'])                                         # what train.py does on resume
    assert [len(g['params']) for g in ck['optimizer']['param_groups']] == [sum(map(s, names)) for s in sel]


def test_importing_the_converters_stays_light():
    code = "import sys, objcentric.official; print(sorted(m for m in ('matplotlib', 'scipy', 'sklearn') if m in sys.modules))"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '[]'
