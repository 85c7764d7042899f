"""The layers point one way (docs/architecture.md), checked by import-linter on every import."""

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def test_every_import_points_down_the_layers():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_sees_imports_made_inside_functions():
    # support_tags imports the entitlement inside its tag functions: the graph the contracts are
    # checked on must hold that import, or a wrong-way import hidden in a function would pass.
    graph = grimp.build_graph("support", cache_dir=None)
    assert graph.direct_import_exists(importer="support.templatetags.support_tags", imported="support.entitlement")
