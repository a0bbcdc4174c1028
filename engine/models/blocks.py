"""Layers more than one family builds the same way.

pre_ln_encoder is the Transformer stack of both the encoder classifier (transformer.py) and the
GPT-style language model (lm.py): nn.TransformerEncoderLayer blocks with GELU, batch-first
tensors and LayerNorm before each sub-layer (pre-LN), stacked by nn.TransformerEncoder with
enable_nested_tensor off (pre-LN layers cannot use that fast path; asking for it only warns). Its
state_dict keys are layers.<i>.{self_attn,linear1,linear2,norm1,norm2}.*, plus norm.* when the
stack ends in its own LayerNorm.
"""

from __future__ import annotations

from torch import nn


def pre_ln_encoder(
    d_model: int,
    num_heads: int,
    ff_size: int,
    dropout: float,
    num_layers: int,
    final_norm: bool,
) -> nn.TransformerEncoder:
    """num_layers pre-LN blocks of width d_model (num_heads heads, a GELU feed-forward of
    ff_size, dropout). final_norm puts a LayerNorm(d_model) at the end of the stack (as its
    "norm"); without it the caller applies its own."""
    layer = nn.TransformerEncoderLayer(
        d_model,
        num_heads,
        ff_size,
        dropout,
        activation="gelu",
        batch_first=True,
        norm_first=True,
    )
    norm = nn.LayerNorm(d_model) if final_norm else None
    return nn.TransformerEncoder(layer, num_layers, norm=norm, enable_nested_tensor=False)
