"""The runtime bindings stand in for verl functions that still look as they did in verl 0.9.1, and work.

If one of these tests fails after a verl upgrade, the verl site named in
:mod:`omni_r1_verl.models.qwen2_5_omni.verl_binding` changed: re-read it before adjusting the binding.
"""

from __future__ import annotations

import importlib
import inspect
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest
import torch
from omegaconf import OmegaConf
from omni_cases import CASES, process

from omni_r1_verl.models.qwen2_5_omni import verl_binding
from omni_r1_verl.models.qwen2_5_omni.verl_binding import original_of

#: (module, name, parameters of verl's original) for every wrapped site.
SITES = [
    ("verl.utils.tokenizer.tokenizer", "hf_processor", ["name_or_path", "kwargs"]),
    ("verl.utils.model", "get_hf_auto_model_class", ["hf_config"]),
    ("verl.workers.rollout.utils", "qwen2_5_vl_dedup_image_tokens", ["prompt_ids", "processor"]),
    ("verl.trainer.ppo.utils", "create_rl_sampler", ["data_config", "dataset"]),
    (
        "verl.models.transformers.monkey_patch",
        "patch_forward_with_backends",
        ["model", "use_fused_kernels", "fused_kernels_backend"],
    ),
]


@pytest.mark.parametrize(("module", "name", "params"), SITES, ids=[s[1] for s in SITES])
def test_every_site_is_wrapped_and_verls_original_keeps_its_signature(module, name, params):
    verl_binding.apply()
    function = getattr(importlib.import_module(module), name)
    original = original_of(function)
    assert original is not function, f"{module}.{name} is not bound"
    assert list(inspect.signature(original).parameters) == params
    verl_binding.apply()  # idempotent: the wrapper is not wrapped again
    assert getattr(importlib.import_module(module), name) is function


def test_monkey_patch_calls_the_bound_function_by_its_module_global():
    # verl's apply_monkey_patch reaches patch_forward_with_backends through its module globals: the binding works
    # only as long as that call stays a plain global lookup.
    from verl.models.transformers import monkey_patch

    assert "patch_forward_with_backends(model" in inspect.getsource(monkey_patch.apply_monkey_patch)


def _outcome(function, *args, **kwargs) -> tuple:
    """What a call did: ``("returned", value)`` or ``("raised", exception type)``."""
    try:
        return ("returned", function(*args, **kwargs))
    except Exception as error:  # noqa: BLE001 - whatever verl does, the wrapper must do the same
        return ("raised", type(error))


def _bound(module: str, name: str):
    import verl  # noqa: F401  (loads our plugin, which wraps the function when its module is imported)

    function = getattr(importlib.import_module(module), name)
    assert original_of(function) is not function
    return function, original_of(function)


class _Items:
    """A plain (non-Omni) dataset."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> int:
        return index


def _mock_dataset(n: int = 5) -> MagicMock:
    dataset = MagicMock()
    dataset.__len__.return_value = n
    return dataset


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("make_dataset", [_Items, _mock_dataset], ids=["plain", "MagicMock"])
def test_sampler_wrapper_gives_non_omni_datasets_verls_sampler(make_dataset, shuffle):
    create_rl_sampler, original = _bound("verl.trainer.ppo.utils", "create_rl_sampler")
    config = OmegaConf.create({"shuffle": shuffle, "seed": 3})
    dataset = make_dataset(5)
    ours, verls = create_rl_sampler(config, dataset), original(config, dataset)
    assert type(ours) is type(verls) and type(ours).__name__ == ("RandomSampler" if shuffle else "SequentialSampler")
    assert list(ours) == list(verls) and ours.data_source is dataset


def test_sampler_wrapper_asks_the_datasets_class_not_the_instance():
    create_rl_sampler, _ = _bound("verl.trainer.ppo.utils", "create_rl_sampler")
    config = OmegaConf.create({"shuffle": False})
    answering = _Items(3)
    answering.build_sampler = lambda data_config: "instance attribute"  # not part of the dataset's type
    assert type(create_rl_sampler(config, answering)).__name__ == "SequentialSampler"

    class Choosing(_Items):
        def build_sampler(self, data_config):
            return ("own sampler", self, data_config)

    dataset = Choosing(3)
    assert create_rl_sampler(config, dataset) == ("own sampler", dataset, config)


def _qwen_vl_processor() -> SimpleNamespace:
    """What verl's dedup recognises as a Qwen-VL processor (by its image processor's class name)."""
    image_processor = type("Qwen2VLImageProcessorFast", (), {})()
    return SimpleNamespace(image_processor=image_processor, image_token_id=5, video_token_id=6)


@pytest.mark.parametrize(
    "make_processor",
    [lambda: None, MagicMock, _qwen_vl_processor, lambda: SimpleNamespace(omni_token_ids={"audio": 9})],
    ids=["none", "MagicMock", "qwen-vl", "look-alike"],
)
def test_dedup_wrapper_returns_verls_result_for_non_omni_processors(make_processor):
    dedup, original = _bound("verl.workers.rollout.utils", "qwen2_5_vl_dedup_image_tokens")
    ids = [1, 5, 5, 5, 2, 6, 6, 9, 9, 3]
    processor = make_processor()
    assert dedup(ids, processor) == original(ids, processor)


def _qwen2_config():
    from transformers import Qwen2Config

    return Qwen2Config(architectures=["Qwen2ForCausalLM"])


def _mock_claiming_omni():
    return MagicMock(model_type="qwen2_5_omni_thinker", architectures=["Qwen2_5OmniThinkerForConditionalGeneration"])


@pytest.mark.parametrize(
    "make_config", [_qwen2_config, MagicMock, _mock_claiming_omni], ids=["qwen2", "MagicMock", "MagicMock-as-omni"]
)
def test_model_class_wrapper_returns_verls_class_for_non_omni_configs(make_config):
    get_class, original = _bound("verl.utils.model", "get_hf_auto_model_class")
    config = make_config()
    assert get_class(config) is original(config)


def test_model_class_wrapper_picks_the_thinker_for_omni_configs(thinker_dir):
    from transformers import AutoConfig

    from omni_r1_verl.models.qwen2_5_omni.model import OmniThinkerForVerl

    get_class, _ = _bound("verl.utils.model", "get_hf_auto_model_class")
    assert get_class(AutoConfig.from_pretrained(thinker_dir)) is OmniThinkerForVerl


def _plain_model(model_type: str = "llama"):
    cls = type("PlainModel", (), {"forward": lambda self: "own forward"})
    model = cls()
    model.config = SimpleNamespace(model_type=model_type)
    return model


def _forward_of(model) -> tuple:
    forward = getattr(type(model), "forward", None)
    return (getattr(forward, "__module__", None), getattr(forward, "__qualname__", None))


@pytest.mark.parametrize("make_model", [_plain_model, MagicMock], ids=["plain", "MagicMock"])
@pytest.mark.parametrize(("fused", "backend"), [(False, None), (True, "torch"), (True, "triton")])
def test_forward_patch_wrapper_patches_non_omni_models_as_verl_does(make_model, fused, backend):
    patch, original = _bound("verl.models.transformers.monkey_patch", "patch_forward_with_backends")
    ours, verls = make_model(), make_model()
    kwargs = {"use_fused_kernels": fused, "fused_kernels_backend": backend}
    assert _outcome(patch, ours, **kwargs) == _outcome(original, verls, **kwargs)
    assert _forward_of(ours) == _forward_of(verls)
    assert vars(ours).get("_verl_fused_kernels_backend") == vars(verls).get("_verl_fused_kernels_backend")


def test_processor_wrapper_returns_verls_result_for_a_mock_path():
    hf_processor, original = _bound("verl.utils.tokenizer.tokenizer", "hf_processor")
    path = MagicMock()
    assert _outcome(hf_processor, path) == _outcome(original, path)


@pytest.fixture(scope="module")
def omni_model(thinker_dir):
    from omni_r1_verl.models.qwen2_5_omni.model import OmniThinkerForVerl

    model = OmniThinkerForVerl.from_pretrained(thinker_dir, attn_implementation="sdpa", torch_dtype=torch.float32)
    return model.eval()


def _inputs(omni_processor, case):
    kinds, media, aiv = CASES[case]
    out = process(omni_processor, kinds, media, aiv)
    ids, mask = out["input_ids"], out["attention_mask"]
    positions, _ = omni_processor.get_rope_index(
        input_ids=ids,
        attention_mask=mask,
        image_grid_thw=out.get("image_grid_thw"),
        video_grid_thw=out.get("video_grid_thw"),
        **omni_processor.get_rope_index_kwargs(out),
    )
    extra = {k: v for k, v in out.items() if k not in ("input_ids", "attention_mask")}
    return dict(input_ids=ids, attention_mask=mask, position_ids=positions, use_audio_in_video=aiv, **extra)


@pytest.mark.parametrize("case", ["video+audio-in-video", "image+audio"])
@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_fused_log_probs_keep_the_multimodal_forward(case, temperature, omni_model, omni_processor, monkeypatch):
    from verl.models.transformers.monkey_patch import apply_monkey_patch
    from verl.utils.experimental import torch_functional

    inputs = _inputs(omni_processor, case)
    with torch.no_grad():
        logits = omni_model(**inputs).logits / temperature
    labels = torch.roll(inputs["input_ids"], shifts=-1, dims=-1)
    expected = torch.log_softmax(logits, -1).gather(-1, labels[..., None])[..., 0]
    probs = torch.softmax(logits, -1)
    expected_entropy = torch.logsumexp(logits, -1) - (probs * logits).sum(-1)

    forward = type(omni_model).forward
    widest = []
    original_fwd = torch_functional._fused_linear_for_ppo_fwd
    monkeypatch.setattr(
        torch_functional,
        "_fused_linear_for_ppo_fwd",
        lambda hidden_states, **kw: widest.append(hidden_states.shape[0]) or original_fwd(hidden_states, **kw),
    )
    monkeypatch.setattr(omni_model.config, "fused_log_probs_chunk_size", 16, raising=False)
    apply_monkey_patch(omni_model, use_remove_padding=False, use_fused_kernels=True, fused_kernels_backend="torch")
    try:
        # verl would have installed its text-only forward on the class; the thinker keeps its own.
        assert type(omni_model).forward is forward and omni_model.fused_kernels_backend == "torch"
        with torch.no_grad():
            out = omni_model(**inputs, temperature=temperature, return_dict=True)
    finally:
        apply_monkey_patch(omni_model, use_remove_padding=False, use_fused_kernels=False)
    assert omni_model.fused_kernels_backend is None
    assert out.log_probs.shape == labels.shape and out.entropy.shape == labels.shape
    torch.testing.assert_close(out.log_probs, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.entropy, expected_entropy, atol=1e-4, rtol=1e-5)
    assert widest and max(widest) == 16  # chunked: never the whole sequence's logits at once


def test_fused_gradients_equal_the_logits_path(omni_model, omni_processor):
    inputs = _inputs(omni_processor, "video+audio-in-video")
    labels = torch.roll(inputs["input_ids"], shifts=-1, dims=-1)
    response = slice(-8, None)

    def grads(fused: bool) -> dict[str, torch.Tensor]:
        omni_model.zero_grad()
        omni_model.fused_kernels_backend = "torch" if fused else None
        try:
            if fused:
                log_probs = omni_model(**inputs, temperature=1.0, return_dict=True).log_probs
            else:
                logits = omni_model(**inputs).logits
                log_probs = torch.log_softmax(logits, -1).gather(-1, labels[..., None])[..., 0]
        finally:
            omni_model.fused_kernels_backend = None
        log_probs[:, response].sum().backward()
        return {n: p.grad.clone() for n, p in omni_model.named_parameters() if p.grad is not None}

    fused, reference = grads(True), grads(False)
    assert fused.keys() == reference.keys() and any(k.startswith("audio_tower") for k in fused)
    for name in reference:
        torch.testing.assert_close(fused[name], reference[name], atol=1e-5, rtol=1e-4, msg=name)
    omni_model.zero_grad()


def test_unsupported_fused_backend_is_refused(omni_model):
    from verl.models.transformers.monkey_patch import patch_forward_with_backends

    with pytest.raises(ValueError, match="impl_backend='cuda_magic'"):
        patch_forward_with_backends(omni_model, use_fused_kernels=True, fused_kernels_backend="cuda_magic")


def test_fused_log_probs_under_fsdp2_match_the_unsharded_model(thinker_dir, omni_processor, tmp_path):
    # verl wraps an untied lm_head as its own FSDP2 unit: its weight is whole only inside its own forward/backward.
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from verl.models.transformers.monkey_patch import apply_monkey_patch
    from verl.utils.fsdp_utils import apply_fsdp2

    from omni_r1_verl.models.qwen2_5_omni.model import OmniThinkerForVerl

    def load():
        return OmniThinkerForVerl.from_pretrained(thinker_dir, attn_implementation="sdpa", torch_dtype=torch.float32)

    inputs = _inputs(omni_processor, "video+audio-in-video")
    labels = torch.roll(inputs["input_ids"], shifts=-1, dims=-1)
    reference = load()
    expected = torch.log_softmax(reference(**inputs).logits, -1).gather(-1, labels[..., None])[..., 0]
    expected[:, -8:].sum().backward()

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        model = load()
        apply_monkey_patch(model, use_remove_padding=False, use_fused_kernels=True, fused_kernels_backend="torch")
        apply_fsdp2(model, {"mesh": init_device_mesh("cpu", (1,), mesh_dim_names=("fsdp",))}, {})
        assert type(model.lm_head).__name__.startswith("FSDP")  # the head is its own unit
        out = model(**inputs, temperature=1.0, return_dict=True)
        out.log_probs[:, -8:].sum().backward()
        torch.testing.assert_close(out.log_probs, expected.detach(), atol=1e-5, rtol=1e-5)
        for name in ("lm_head.weight", "model.norm.weight"):
            grad = dict(model.named_parameters())[name].grad.full_tensor()
            torch.testing.assert_close(grad, dict(reference.named_parameters())[name].grad, atol=1e-5, rtol=1e-4)
    finally:
        dist.destroy_process_group()
