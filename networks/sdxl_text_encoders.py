"""Stable Diffusion XL's two text encoders, as MLPerf Inference's ``stable-diffusion-xl`` runs them.

MLPerf's reference (mlcommons/inference@024a17e87f00930b0f36c7d8734d09acb3a24f3b
``text_to_image/backend_pytorch.py``: ``StableDiffusionXLPipeline.from_pretrained(
"stabilityai/stable-diffusion-xl-base-1.0")``, ``encode_tokens``) tokenizes each prompt padded to
``max_length`` 77 and runs both encoders whole, ``text_encoder(ids, output_hidden_states=True)``:
the UNet's ``(77, 2048)`` context is the two encoders' penultimate hidden states side by side (768 +
1280), and its pooled text embedding the second encoder's projected EOS token. With classifier-free
guidance the negative prompt runs through both encoders too (``--batch 2`` per image).

Reference: Hugging Face transformers, huggingface/transformers@679021a6b0ded09d623a96e2bd2f822c5a548872
``src/transformers/models/clip/modeling_clip.py`` (``CLIPTextEmbeddings``, ``CLIPAttention``,
``CLIPMLP``, ``CLIPEncoderLayer``, ``CLIPTextTransformer``, ``CLIPTextModel``,
``CLIPTextModelWithProjection``), with the checkpoint's ``text_encoder/config.json`` and
``text_encoder_2/config.json``:

* ``sdxl_text_encoder``: OpenAI's CLIP ViT-L/14 text model
  (openai/CLIP@ea41722f9fe6bb81189f41ab6c306e77e930c2af ``clip/model.py``: ``transformer_width`` 768,
  ``transformer_layers`` 12, ``transformer_heads`` 12, ``vocab_size`` 49408, ``context_length`` 77,
  ``QuickGELU``); ``CLIPTextModel``, ``hidden_act`` quick_gelu, intermediate 3072. Parameters
  123,060,480.
* ``sdxl_text_encoder_2``: OpenCLIP's ViT-bigG/14 text tower
  (mlfoundations/open_clip@4ee12e107803c334f5fc6a4833d4711016cbdbfb
  ``src/open_clip/model_configs/ViT-bigG-14.json``: ``text_cfg`` width 1280, heads 20, layers 32,
  vocab 49408, context 77; ``embed_dim`` 1280); ``CLIPTextModelWithProjection``, ``hidden_act``
  gelu, intermediate 5120, ``text_projection`` 1280 -> 1280 without bias. Parameters 694,659,840.

Structure: token embedding (49408 × E) + position embedding (77 × E), summed; ``layers`` pre-norm
layers: LayerNorm -> self-attention (q, k, v, out projections with biases, ``softmax(QKᵀ/√d + mask)V``)
-> residual add -> LayerNorm -> fc1 (4E) -> activation -> fc2 -> residual add; the final LayerNorm;
the pooled output is the EOS token's row (``last_hidden_state[arange, ids.argmax(-1)]``: one token
taken, as :class:`~simulator.model.layers.SelectToken`), projected for ``text_encoder_2``. The causal
mask changes no MAC (the scores are computed whole, then masked); its one add per score is not counted.
MACs per layer ``4·L·E² + 2·L²·E + 2·L·E·4E`` at ``L`` tokens.
"""

from __future__ import annotations

from simulator.errors import ShapeError
from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import register_network

#: CLIP's BPE vocabulary and its context (``context_length``): the tokenizer pads every prompt to 77
VOCAB_SIZE = 49408
CONTEXT_LENGTH = 77


def build_clip_text(name: str, width: int, layers: int, heads: int, activation: str,
                    projection_dim: int | None, seq_len: int = CONTEXT_LENGTH) -> Network:
    """HF ``CLIPTextModel`` (``projection_dim`` None) or ``CLIPTextModelWithProjection`` on
    ``seq_len`` token ids (input ``(seq_len,)``). Outputs ``last_hidden_state (seq_len, E)`` and the
    pooled ``(E,)`` (projected: ``(projection_dim,)``)."""
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or not 1 <= seq_len <= CONTEXT_LENGTH:
        raise ShapeError(f"seq_len {seq_len!r}: CLIP's text encoder takes 1 to {CONTEXT_LENGTH} tokens "
                         f"(its position table); MLPerf pads every prompt to {CONTEXT_LENGTH}")
    net = NetworkBuilder(name, (seq_len,))
    tokens = net.embedding(net.input, VOCAB_SIZE, width, "tokens", name="embeddings.token_embedding")
    positions = net.embedding(net.input, CONTEXT_LENGTH, width, "positions",
                              name="embeddings.position_embedding")
    x = net.add_(tokens, positions, name="embeddings.add")
    for i in range(layers):
        p = f"encoder.layers.{i}"
        y = net.self_attention(net.layer_norm(x, name=f"{p}.layer_norm1"), heads, name=f"{p}.self_attn")
        x = net.add_(x, y, name=f"{p}.self_attn.add")
        y = net.linear(net.layer_norm(x, name=f"{p}.layer_norm2"), 4 * width, name=f"{p}.mlp.fc1")
        y = net.linear(net.activation(y, activation, name=f"{p}.mlp.activation_fn"), width,
                       name=f"{p}.mlp.fc2")
        x = net.add_(x, y, name=f"{p}.mlp.add")
    x = net.layer_norm(x, name="final_layer_norm")
    pooled = net.select_token(x, seq_len - 1, name="pooler.eos_token")  # the EOS row (argmax of the ids)
    if projection_dim is not None:
        pooled = net.linear(pooled, projection_dim, bias=False, name="text_projection")
    return net.build(outputs=(x, pooled))


@register_network
def sdxl_text_encoder(seq_len: int = CONTEXT_LENGTH) -> Network:
    """SDXL's ``text_encoder``: CLIP ViT-L/14's text model (12 layers, width 768, QuickGELU;
    123,060,480 parameters) on a prompt padded to 77 tokens."""
    return build_clip_text("sdxl_text_encoder", 768, 12, 12, "quick_gelu", None, seq_len)


@register_network
def sdxl_text_encoder_2(seq_len: int = CONTEXT_LENGTH) -> Network:
    """SDXL's ``text_encoder_2``: OpenCLIP ViT-bigG/14's text model with its projection (32 layers,
    width 1280, GELU; 694,659,840 parameters) on a prompt padded to 77 tokens."""
    return build_clip_text("sdxl_text_encoder_2", 1280, 32, 20, "gelu", 1280, seq_len)
