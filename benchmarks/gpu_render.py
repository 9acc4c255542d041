"""Our render path vs a bare diffusers loop for a real checkpoint on a GPU.

    .venv/bin/python benchmarks/gpu_render.py /models/stable-diffusion-xl-base-1.0 [--steps 30]

The same measurement as benchmarks/render.py (same prompts, seeds, settings, alternating
runs), on CUDA with the checkpoint's native size; ends with ``render_over_bare_ratio``
(goal >= 0.95).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render import main  # noqa: E402

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__)
    main(["--model", sys.argv[1], "--device", "cuda", "--steps", "30", *sys.argv[2:]], description="gpu_render")
