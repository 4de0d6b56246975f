"""Property test (issue 23): generated LLM configs (every field zero, negative, float, bool, string, huge
or missing) and ``roofline llm`` flag values either succeed, with finite times and integer counts, or
fail with exit 2 and one line on stderr, each within a time bound (hypothesis' deadline)."""

from __future__ import annotations

import json
import math
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.cli import main

#: small configs of each family (cheap to simulate: a few layers), to be broken field by field
BASES = {
    "llama": {"model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2,
              "num_attention_heads": 8, "num_key_value_heads": 2, "vocab_size": 1000,
              "max_position_embeddings": 4096, "tie_word_embeddings": False},
    "mixtral": {"model_type": "mixtral", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2,
                "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 1000,
                "max_position_embeddings": 4096, "num_local_experts": 4, "num_experts_per_tok": 2},
    "gpt2": {"model_type": "gpt2", "n_embd": 256, "n_head": 8, "n_layer": 2, "vocab_size": 1000,
             "n_positions": 1024},
}
FIELDS = sorted({key for base in BASES.values() for key in base} | {"head_dim", "n_inner", "attention_bias",
                                                                    "mlp_bias"})
MISSING = object()
values = st.one_of(
    st.sampled_from([0, -1, -4096, 1, 2, 3, 4, 8, 64, 4097, 10**6, 10**30, 2**63, 1.5, 4096.0, -0.0,
                     math.inf, True, False, "false", "true", "4096", "", None, [], {}, MISSING]),
    st.integers(min_value=-10, max_value=600),
)
FLAG_VALUES = st.one_of(  # half valid, half not
    st.sampled_from(["1", "2", "3", "4", "8", "16", "1,2", "1..4", " 2 ", "64", "1024", "4000"]),
    st.sampled_from(["0", "-1", "1.5", "abc", "", "1e3", "10000000000000", "999999999999999999999"]))
FLAGS = ("--tp", "--pp", "--prompt", "--generate", "--batch")


@st.composite
def configs(draw):
    cfg = dict(BASES[draw(st.sampled_from(sorted(BASES)))])
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        value = draw(values)
        if value is MISSING:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    return cfg


def _check_success(out: str) -> None:
    document = json.loads(out)
    for row in document["configurations"]:
        for key in ("batch", "prompt", "generate", "tp", "pp", "max_batch"):
            assert isinstance(row[key], int) and not isinstance(row[key], bool), (key, row[key])
        for key in ("ttft_s", "tpot_s", "e2e_latency_s", "energy_per_token_j", "output_tokens_per_s",
                    "weight_bytes", "kv_cache_bytes", "memory_bytes"):
            assert isinstance(row[key], float | int) and math.isfinite(row[key]) and row[key] > 0, (key, row)


@settings(max_examples=80, deadline=timedelta(seconds=4),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cfg=configs(), flags=st.dictionaries(st.sampled_from(FLAGS), FLAG_VALUES, max_size=3),
       device=st.sampled_from(["h100-sxm", "jetson-agx-orin"]))
def test_generated_configs_and_flags_succeed_finite_or_fail_in_one_line(tmp_path_factory, capsys, cfg,
                                                                       flags, device):
    path = tmp_path_factory.mktemp("llm") / "config.json"
    path.write_text(json.dumps(cfg))
    argv = ["llm", str(path), "--device", device, "--prompt", "64", "--generate", "8", "--format", "json"]
    for flag, value in flags.items():
        argv += [flag, value]   # the later occurrence wins
    status = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if status == 0:
        assert not err.strip(), err
        _check_success(out)
    else:
        assert status == 2, (status, err)
        assert len(err.strip().splitlines()) == 1, err
