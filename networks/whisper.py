"""Whisper's audio encoder (Radford et al., 2022), as Hugging Face ``WhisperEncoder`` builds it, at the size
MLPerf Inference's ``whisper`` benchmark runs (whisper-large-v3).

Reference: huggingface/transformers @ 5c48f71a682fa7bbcbde1be5d2a2ac16cc654210,
``src/transformers/models/whisper/modeling_whisper.py`` (``WhisperEncoder``, ``WhisperEncoderLayer``,
``WhisperAttention``), with openai/whisper-large-v3's ``config.json``: ``d_model`` 1280,
``encoder_layers`` 32, ``encoder_attention_heads`` 20, ``encoder_ffn_dim`` 5120, ``num_mel_bins`` 128,
``max_source_positions`` 1500, ``activation_function`` gelu.

Structure: the 30 s log-mel input ``(128, 3000)``; ``conv1`` Conv1d(128 -> 1280, k 3, padding 1) ->
GELU -> ``conv2`` Conv1d(1280 -> 1280, k 3, stride 2, padding 1) -> GELU -> ``(1500, 1280)``; plus
``embed_positions`` (an ``nn.Embedding(1500, 1280)`` whose weight is added whole: a parameter of
HF's model, frozen); 32 pre-norm layers: LayerNorm -> self-attention (q, v, out projections with
bias, k without: :class:`~simulator.model.layers.NoKeyBiasSelfAttention`) -> residual add ->
LayerNorm -> fc1 (5120) -> GELU -> fc2 -> residual add; a final LayerNorm. The ``head_dim^-0.5``
scaling of q is the attention kind's score scaling. Dropout is the identity at inference.

Parameters 636,968,960 (the tests derive them from this table; with the decoder's, derived the same
way, they make the model card's 1.54 B). The decoder, which MLPerf's benchmark also runs, is not here.
"""

from __future__ import annotations

from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import register_network

#: 30 s of audio at whisper's 100 log-mel frames per second: the encoder's fixed input length
INPUT_FRAMES = 3000


def build_whisper_encoder(name: str, d_model: int, layers: int, heads: int, ffn: int, mel_bins: int,
                          positions: int) -> Network:
    """HF ``WhisperEncoder`` on ``(mel_bins, 2·positions)`` log-mel frames.

    Output ``(positions, d_model)``."""
    net = NetworkBuilder(name, (mel_bins, 2 * positions))
    x = net.gelu(net.conv1d(net.input, d_model, 3, padding=1, name="conv1"), name="conv1.gelu")
    x = net.gelu(net.conv1d(x, d_model, 3, stride=2, padding=1, name="conv2"), name="conv2.gelu")
    x = net.permute(x, (1, 0), name="permute")                            # (positions, d_model)
    x = net.positional_embedding(x, name="embed_positions")
    for i in range(layers):
        p = f"layers.{i}"
        y = net.layer_norm(x, name=f"{p}.self_attn_layer_norm")
        y = net.self_attention_no_key_bias(y, heads, name=f"{p}.self_attn")
        x = net.add_(x, y, name=f"{p}.self_attn.add")
        y = net.layer_norm(x, name=f"{p}.final_layer_norm")
        y = net.gelu(net.linear(y, ffn, name=f"{p}.fc1"), name=f"{p}.activation_fn")
        x = net.add_(x, net.linear(y, d_model, name=f"{p}.fc2"), name=f"{p}.fc.add")
    net.layer_norm(x, name="layer_norm")
    return net.build()


@register_network
def whisper_large_v3_encoder() -> Network:
    """whisper-large-v3's encoder (MLPerf Inference ``whisper``): 30 s of audio, 1500 output positions."""
    return build_whisper_encoder("whisper_large_v3_encoder", 1280, 32, 20, 5120, 128, INPUT_FRAMES // 2)
