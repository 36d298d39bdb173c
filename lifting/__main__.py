"""`python -m lifting COMMAND ...` (and the `video-mocap` console script): one command tree for every stage.

    python -m lifting VIDEO... -o OUT          convert videos to animation (lifting.app.cli)
    python -m lifting detect|lift|demo ...     the pipeline's steps and the demo (lifting.app.cli)
    python -m lifting worker ...               the add-on's engine protocol (lifting.app.worker)
    python -m lifting quality VIDEO...         the result measured on real footage (lifting.app.quality)
    python -m lifting people VIDEO --frame N   everyone on one frame, to choose whom to follow (lifting.app.people)
    python -m lifting train|finetune|evaluate  the models (lifting.learn; finetune's table: lifting.app.finetune)
    python -m lifting contacts train|evaluate  the foot-contact model (lifting.learn.contacts)
    python -m lifting dataset|pack             the motion-capture training data (lifting.learn.datasets)

Each command's module is imported only when it runs, so `worker check` and `--help` start without torch, and a
missing package is reported by the command that needs it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# command -> module whose `main(argv) -> int` runs it; anything else goes to the conversion command line.
COMMANDS = {
    "worker": "lifting.app.worker",
    "quality": "lifting.app.quality",
    "people": "lifting.app.people",
    "train": "lifting.learn.train",
    "finetune": "lifting.app.finetune",
    "evaluate": "lifting.learn.evaluate",
    "contacts": "lifting.learn.contacts",
    "dataset": "lifting.learn.datasets.dataset",
    "pack": "lifting.learn.datasets.pack",
}
CONVERT = "lifting.app.cli"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in COMMANDS:
        module = importlib.import_module(COMMANDS[args[0]])
        code: int = module.main(args[1:])
    else:
        code = importlib.import_module(CONVERT).main(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
