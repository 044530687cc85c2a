"""The hub's pre-spawn hook: each server gets its role's Jupyter config path."""

from __future__ import annotations

from pathlib import Path

from ds4023.hub import config, plan


class PreSpawn:
    """``Spawner.pre_spawn_hook``: instructor or student settings, chosen by login name."""

    def __init__(self, state: str):
        self.state = Path(state)

    def __call__(self, spawner) -> None:
        """Set $JUPYTER_CONFIG_PATH (nbgrader's config, the role's lab page config)."""
        hub = plan.load(self.state)
        spawner.environment["JUPYTER_CONFIG_PATH"] = config.jupyter_config_path(
            hub, spawner.user.name
        )
