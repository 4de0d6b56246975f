"""RNN-T (MLPerf Inference ``rnnt``, rounds v0.7 to v3.1) with its greedy decoding, as the reference runs it.

Reference: mlcommons/inference @ 0ab25310584705ffc513a6c8d94fad207355b4c3^ (before the move to
``retired_benchmarks``): ``speech_recognition/rnnt/pytorch/configs/rnnt.toml`` (80 log-filterbank
features, ``frame_splicing = 3``; ``encoder_n_hidden = 1024``, ``encoder_pre_rnn_layers = 2``,
``encoder_stack_time_factor = 2``, ``encoder_post_rnn_layers = 3``, ``pred_n_hidden = 320``,
``pred_rnn_layers = 2``, ``joint_n_hidden = 512``; 28 labels), ``model_separable_rnnt.py`` (``Encoder``,
``Prediction``: ``Embedding(28, 320)``, ``Joint``: ``Linear(320 + 1024, 512)``, ReLU,
``Linear(512, 29)``), ``rnn.py`` (``torch.nn.LSTM``; ``StackTime`` pads the frames to a multiple of 2
and stacks pairs) and ``decoders.py`` (``ScriptGreedyDecoder``).

The network is one utterance: ``frames`` spliced feature frames ``(frames, 240)`` (100 frames per
second, spliced by 3) through the encoder (2 LSTM layers, stack time, 3 LSTM layers:
``T = ceil(frames / 2)`` steps), then the greedy decoding of ``symbols`` characters. The decoder
runs one prediction step and one joint step per loop iteration: every encoder step ends with one
blank, and each emitted character takes one more iteration, so ``S = T + symbols`` iterations (the
reference recomputes the prediction network on every iteration, even after a blank). The
prediction LSTM and the joint are modelled over those ``S`` steps: the joint reads the encoder
frame of each step (a row gather, data movement) next to the prediction output. The default
``frames`` is the config's ``max_duration`` (16.7 s, 557 spliced frames); ``symbols`` defaults to none
(set it to the transcript's length: each character adds a prediction and a joint step).
"""

from __future__ import annotations

from simulator.errors import SimulatorError
from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import register_network

FEATURES, SPLICING = 80, 3
ENCODER_HIDDEN, PRED_HIDDEN, JOINT_HIDDEN = 1024, 320, 512
LABELS = 28                                   # " ", a..z, "'"; the blank is the 29th output
#: rnnt.toml's max_duration (16.7 s) in spliced frames: ceil(1670 / 3)
MAX_FRAMES = -(-1670 // SPLICING)


def build_rnnt(name: str, frames: int, symbols: int) -> Network:
    """The reference's encoder over ``frames`` spliced frames and ``T + symbols`` greedy-decoding steps."""
    if frames < 1 or symbols < 0:
        raise SimulatorError(f"rnnt takes frames >= 1 and symbols >= 0, got frames={frames}, "
                             f"symbols={symbols}")
    net = NetworkBuilder(name, (frames, FEATURES * SPLICING))
    x = net.lstm(net.input, ENCODER_HIDDEN, name="encoder.pre_rnn.lstm.0")
    x = net.lstm(x, ENCODER_HIDDEN, name="encoder.pre_rnn.lstm.1")
    if frames % 2:
        x = net.pad(x, (0, 0, 0, 1), name="encoder.stack_time.pad")
    steps = -(-frames // 2)
    x = net.reshape(x, (steps, 2 * ENCODER_HIDDEN), name="encoder.stack_time")
    for i in range(3):
        x = net.lstm(x, ENCODER_HIDDEN, name=f"encoder.post_rnn.lstm.{i}")
    decode = steps + symbols
    # the prediction network on each step's last label: S lookups of one 320-wide row, modelled as
    # one lookup (the table's parameters) spread to the S steps (the S·320 elements they move)
    g = net.embedding_bag(net.input, LABELS, PRED_HIDDEN, 1, name="prediction.embed")
    g = net.interpolate(net.reshape(g, (PRED_HIDDEN, 1, 1), name="prediction.embed.view"), size=(decode, 1),
                        name="prediction.steps")
    g = net.reshape(g, (PRED_HIDDEN, decode), name="prediction.steps.view")
    g = net.permute(g, (1, 0), name="prediction.steps.t")
    g = net.lstm(g, PRED_HIDDEN, name="prediction.dec_rnn.lstm.0")
    g = net.lstm(g, PRED_HIDDEN, name="prediction.dec_rnn.lstm.1")
    # the joint on (encoder frame of the step, prediction output) for each step
    f = net.reshape(net.permute(x, (1, 0), name="joint.frames.t"), (ENCODER_HIDDEN, steps, 1),
                    name="joint.frames.view")
    f = net.interpolate(f, size=(decode, 1), name="joint.frames")   # nearest: the step's frame
    f = net.permute(net.reshape(f, (ENCODER_HIDDEN, decode), name="joint.frames.rows"), (1, 0),
                    name="joint.frames.rows.t")
    j = net.concat(f, g, dim=1, name="joint.cat")
    j = net.relu(net.linear(j, JOINT_HIDDEN, name="joint.net.0"), inplace=True, name="joint.net.1")
    net.linear(j, LABELS + 1, name="joint.net.3")
    return net.build()


@register_network
def rnnt(frames: int = MAX_FRAMES, symbols: int | None = None) -> Network:
    """MLPerf's RNN-T: ``frames`` spliced frames, greedy decoding of ``symbols`` characters (None: none,
    the blank-only lower bound of ``T`` decoding steps)."""
    return build_rnnt("rnnt", frames, symbols or 0)
