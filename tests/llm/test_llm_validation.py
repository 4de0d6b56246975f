"""Bad input on the LLM path (issue 23): each case with its exact input. Through the CLI, a bad value
exits 2 with exactly one line on stderr naming it (no traceback); through the API it is one
SimulatorError naming the value and what was expected; a valid input gives the hand-derived number.
"""

from __future__ import annotations

import copy
import json
import time

import pytest

from simulator.cli import main
from simulator.errors import SimulatorError
from simulator.llm import load_config, simulate_llm
from simulator.llm.config import LIMITS, available_llms
from simulator.model.counts import count_network

LLAMA = json.loads(available_llms()["llama_3_8b"].read_text())
MIXTRAL = json.loads(available_llms()["mixtral_8x7b"].read_text())
GPT2 = json.loads(available_llms()["gpt2"].read_text())
GPT2_PARAMS = 124_439_808  # Hugging Face's count of gpt2 (tied LM head)


def write(tmp_path, base, **changes):
    """``base`` with ``changes`` (a value of ``...`` removes the key) as ``tmp_path/config.json``."""
    cfg = copy.deepcopy(base)
    for key, value in changes.items():
        if value is ...:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return path


def one_line_error(capsys, argv):
    """Runs the CLI; asserts exit 2 and one stderr line without a traceback; returns that line."""
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2, (status, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def llm(path, *flags):
    return ["llm", str(path), "--device", "h100-sxm", "--prompt", "512", "--generate", "8", *flags]


@pytest.mark.parametrize(("base", "key", "value", "expected"), [
    (LLAMA, "num_key_value_heads", 0, "num_key_value_heads must be an integer from 1 to 4,096, got 0"),
    (LLAMA, "num_hidden_layers", 0, "num_hidden_layers must be an integer from 1 to 1,000, got 0"),
    (LLAMA, "num_hidden_layers", -2, "num_hidden_layers must be an integer from 1 to 1,000, got -2"),
    (LLAMA, "intermediate_size", 0, "intermediate_size must be an integer from 1 to 1,048,576, got 0"),
    (LLAMA, "vocab_size", 0, "vocab_size must be an integer from 1 to 4,194,304, got 0"),
    (LLAMA, "hidden_size", -4096, "hidden_size must be an integer from 1 to 131,072, got -4096"),
    (LLAMA, "hidden_size", 4096.5, "hidden_size must be an integer from 1 to 131,072, got 4096.5"),
    (LLAMA, "hidden_size", 4096.0, "hidden_size must be an integer from 1 to 131,072, got 4096.0"),
    (LLAMA, "hidden_size", True, "hidden_size must be an integer from 1 to 131,072, got True"),
    (LLAMA, "hidden_size", "4096", "hidden_size must be an integer from 1 to 131,072, got '4096'"),
    (LLAMA, "head_dim", 0, "head_dim must be an integer from 1 to 4,096, got 0"),
    (LLAMA, "num_attention_heads", 0, "num_attention_heads must be an integer from 1 to 4,096, got 0"),
    (LLAMA, "tie_word_embeddings", "false", "tie_word_embeddings must be true or false, got 'false'"),
    (LLAMA, "attention_bias", 1, "attention_bias must be true or false, got 1"),
    (LLAMA, "max_position_embeddings", 0, "max_position_embeddings must be an integer from 1"),
    # Hugging Face refuses a hidden size its heads do not divide (head_dim would be floored to 128)
    (LLAMA, "hidden_size", 4097, "hidden_size 4,097 is not divisible by num_attention_heads 32"),
    (LLAMA, "num_key_value_heads", 5, "num_attention_heads 32 is not divisible by num_key_value_heads 5"),
    (LLAMA, "num_local_experts", 8, "num_local_experts is read for model_type mixtral only"),
    (MIXTRAL, "num_local_experts", 0, "num_local_experts must be an integer from 1 to 1,024, got 0"),
    (MIXTRAL, "num_local_experts", -8, "num_local_experts must be an integer from 1 to 1,024, got -8"),
    (MIXTRAL, "num_experts_per_tok", 9, "num_experts_per_tok 9 exceeds num_local_experts 8"),
    (GPT2, "n_embd", 770, "n_embd 770 is not divisible by n_head 12"),
    (GPT2, "n_layer", 0.5, "n_layer must be an integer from 1 to 1,000, got 0.5"),
    (GPT2, "tie_word_embeddings", "true", "tie_word_embeddings must be true or false, got 'true'"),
    (LLAMA, "model_type", "gemma3", "model_type 'gemma3' is not supported; supported: llama, mistral"),
    (LLAMA, "hidden_size", ..., "config.json has no hidden_size"),
])
def test_config_field_out_of_range_is_one_line(tmp_path, capsys, base, key, value, expected):
    line = one_line_error(capsys, llm(write(tmp_path, base, **{key: value})))
    assert expected in line, line


def test_a_huge_integer_is_shown_shortened(tmp_path, capsys):
    line = one_line_error(capsys, llm(write(tmp_path, LLAMA, vocab_size=10**400)))
    assert "vocab_size must be an integer from 1 to 4,194,304, got 1000000000" in line
    assert "(401 characters)" in line and len(line) < 200


@pytest.mark.parametrize("content", [bytes(range(256)), b"\xff\xfe{}", b"{not json", b"[1, 2]", b"",
                                     b"[" * 100_000])
def test_a_config_that_is_not_a_json_object_is_one_line(tmp_path, capsys, content):
    path = tmp_path / "config.json"
    path.write_bytes(content)
    line = one_line_error(capsys, ["llm", str(path), "--device", "h100-sxm"])
    assert str(path) in line and ("cannot read config.json" in line or "must hold an object" in line)


@pytest.mark.parametrize("layers", [1_000_000, 1_001])
def test_too_many_layers_are_refused_at_once(tmp_path, capsys, layers):
    # bounded work: the engine's cost grows with the square of the layers (5,000 took 237 s and 17.5 GB)
    start = time.perf_counter()
    line = one_line_error(capsys, llm(write(tmp_path, LLAMA, num_hidden_layers=layers)))
    assert time.perf_counter() - start < 2
    assert f"num_hidden_layers must be an integer from 1 to 1,000, got {layers}" in line


def test_gpt2_honours_an_untied_lm_head(tmp_path):
    # tie_word_embeddings: false gives the LM head its own V x d matrix: 50,257 x 768 more parameters
    from simulator.llm.network import build_network
    untied = load_config(write(tmp_path, GPT2, tie_word_embeddings=False))
    assert count_network(build_network(untied, 8), 1).params == GPT2_PARAMS + 50_257 * 768


def test_mixtral_defaults_to_eight_experts_two_per_token(tmp_path):
    cfg = load_config(write(tmp_path, MIXTRAL, num_local_experts=..., num_experts_per_tok=...))
    assert (cfg.num_experts, cfg.experts_per_token) == (8, 2)   # MixtralConfig's defaults


def test_llama_without_max_positions_takes_transformers_default(tmp_path):
    # LlamaConfig's default max_position_embeddings is 2048: prompt 2048 + generate 1 uses 2048 positions
    path = write(tmp_path, LLAMA, max_position_embeddings=...)
    assert load_config(path).max_positions == 2048
    simulate_llm(load_config(path), "h100-sxm", 1, 2048, 1)
    with pytest.raises(SimulatorError, match="needs 2,049 positions"):
        simulate_llm(load_config(path), "h100-sxm", 1, 2048, 2)


# --- the context limit: prompt + generate - 1 positions (the last output token is never fed back)

def test_prompt_beyond_a_small_context_is_refused(tmp_path, capsys):
    line = one_line_error(capsys, ["llm", str(write(tmp_path, LLAMA, max_position_embeddings=16)),
                                   "--device", "h100-sxm", "--prompt", "512"])
    assert "prompt 512 + generate 128 needs 639 positions" in line
    assert "has 16 (max_position_embeddings)" in line


def test_llama_3_8b_refuses_a_131072_token_prompt(capsys):
    line = one_line_error(capsys, ["llm", "llama_3_8b", "--device", "h100-sxm", "--prompt", "131072"])
    assert "prompt 131,072 + generate 128 needs 131,199 positions" in line and "has 8,192" in line


def test_gpt2_checks_prompt_plus_generated_tokens(capsys):
    line = one_line_error(capsys, ["llm", "gpt2", "--device", "h100-sxm", "--prompt", "1000",
                                   "--generate", "200"])
    assert "prompt 1,000 + generate 200 needs 1,199 positions" in line and "has 1,024 (n_positions)" in line
    # the boundary: 1000 + 25 - 1 = 1,024 positions fit, one more token does not
    assert main(["llm", "gpt2", "--device", "h100-sxm", "--prompt", "1000", "--generate", "25"]) == 0
    capsys.readouterr()
    line = one_line_error(capsys, ["llm", "gpt2", "--device", "h100-sxm", "--prompt", "1000",
                                   "--generate", "26"])
    assert "needs 1,025 positions" in line


def test_sweep_checks_the_context_too(capsys):
    line = one_line_error(capsys, ["sweep", "gpt2", "--device", "h100-sxm", "--prompt", "1000",
                                   "--generate", "200"])
    assert "needs 1,199 positions" in line


# --- pipeline parallelism

def test_pipeline_stages_share_the_energy_of_one_pass():
    # each stage computes its 1/pp of the layers: pp stages together spend one whole-model pass, so the
    # energy per token does not depend on pp (it was multiplied by pp: 0.838, 2.51, 26.8 J at pp 1, 3, 32)
    energy = {pp: simulate_llm("llama_3_8b", "h100-sxm", 1, 2048, 128, pp=pp).metrics["energy_per_token_j"][0]
              for pp in (1, 3, 32)}
    assert energy[3] == pytest.approx(energy[1], rel=1e-12)
    assert energy[32] == pytest.approx(energy[1], rel=1e-12)


def test_pipeline_deeper_than_the_layers_is_refused(capsys):
    line = one_line_error(capsys, ["llm", "llama_3_8b", "--device", "h100-sxm", "--pp", "1000"])
    assert "pp 1,000 pipeline stages exceed its 32 layers" in line and "use pp from 1 to 32" in line
    assert main(["llm", "llama_3_8b", "--device", "h100-sxm", "--pp", "32", "--format", "json"]) == 0


def test_tensor_parallelism_must_split_kv_heads_evenly(tmp_path, capsys):
    # 12 query heads, 4 KV heads, tp 6: 6 divides 12 but neither 4 % 6 nor 6 % 4 is 0
    path = write(tmp_path, LLAMA, hidden_size=1536, num_attention_heads=12, num_key_value_heads=4,
                 intermediate_size=4608)
    line = one_line_error(capsys, llm(path, "--tp", "6"))
    assert "tensor parallelism 6 must divide its 4 key-value heads or be a multiple of them" in line


# --- CLI flags

@pytest.mark.parametrize("flag", ["--tp", "--pp", "--prompt", "--generate", "--batch"])
@pytest.mark.parametrize("value", ["0", "-1", "-5", "1.5", "abc", ""])
def test_flag_out_of_range_is_one_line(capsys, flag, value):
    line = one_line_error(capsys, ["llm", "llama_3_8b", "--device", "h100-sxm", flag, value])
    assert flag in line and repr(value) in line and "at least" in line


def test_an_llm_sweep_on_a_device_without_its_precision_is_one_line(capsys):
    # STM32F746 computes in int8 and fp32 only; an LLM sweep computes in fp16 (and GPT-2's 1,024
    # positions refuse the default 2,048-token prompt first)
    line = one_line_error(capsys, ["sweep", "gpt2", "--device", "stm32f746"])
    assert "needs 2,175 positions" in line
    line = one_line_error(capsys, ["sweep", "gpt2", "--device", "stm32f746", "--prompt", "128"])
    assert "no configuration to sweep" in line and "stm32f746 has int8, fp32" in line


# --- the Python API

@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"batch": 1.5}, "batch must be an integer from 1 to 1,000,000,000,000, got 1.5"),
    ({"batch": []}, "from 1 to 1,000,000,000,000 or a non-empty list of them, got []"),
    ({"batch": "8"}, "or a non-empty list of them, got '8'"),
    ({"batch": [1, 0]}, "batch must be an integer from 1 to 1,000,000,000,000, got 0"),
    ({"batch": True}, "batch must be an integer from 1 to 1,000,000,000,000, got True"),
    ({"prompt": 0}, "prompt must be an integer of at least 1, got 0"),
    ({"prompt": 1.5}, "prompt must be an integer of at least 1, got 1.5"),
    ({"prompt": "512"}, "prompt must be an integer of at least 1, got '512'"),
    ({"generate": 0}, "generate must be an integer of at least 1, got 0"),
    ({"tp": 0}, "tp (tensor-parallel devices) must be an integer of at least 1, got 0"),
    ({"pp": 0}, "pp (pipeline stages) must be an integer of at least 1, got 0"),
    ({"tp": 3}, "tensor parallelism 3 must divide its 32 heads"),
    ({"ideal": "false"}, "ideal must be True or False, got 'false'"),
    ({"weight_precision": None}, "unknown weight precision 'None'"),
])
def test_api_argument_out_of_range_names_value_and_expectation(kwargs, expected):
    args = {"prompt": 128, "generate": 8, **kwargs}
    with pytest.raises(SimulatorError) as error:
        simulate_llm("llama_3_8b", "h100-sxm", **args)
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_a_config_built_in_python_is_held_to_the_same_ranges():
    import dataclasses
    cfg = load_config("llama_3_8b")
    with pytest.raises(SimulatorError, match="num_layers must be an integer from 1 to 1,000, got 0"):
        dataclasses.replace(cfg, num_layers=0)
    with pytest.raises(SimulatorError, match="32 attention heads are not a multiple of 5 key-value heads"):
        dataclasses.replace(cfg, num_kv_heads=5)


def test_help_documents_every_range(capsys):
    with pytest.raises(SystemExit):
        main(["llm", "--help"])
    text = capsys.readouterr().out
    for key in ("num_hidden_layers", "hidden_size", "num_key_value_heads", "head_dim", "vocab_size",
                "max_position_embeddings", "num_local_experts", "num_experts_per_tok", "intermediate_size"):
        assert key in text
    for low, high in LIMITS.values():
        assert f"{max(low, 1):,} .. {high:,}" in text
    for flag in ("--batch", "--prompt", "--generate", "--tp", "--pp"):
        assert flag in text.split("ranges of the flags:")[1]
