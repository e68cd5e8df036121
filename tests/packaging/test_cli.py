"""`imgpipe --version`, shell completion, and the hint a command gives when its extra is missing."""

from __future__ import annotations

import importlib.metadata
import subprocess
import tomllib
from pathlib import Path

import pytest

from infra.locks import ROOT, requirements_for
from services.cli import COMMANDS, EXTRA_OF_PACKAGE, main, missing_extra
from services.commands.completion import script


def test_version_prints_the_installed_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"imgpipe {importlib.metadata.version('imgpipe')}\n"


def test_a_missing_package_names_the_extra_that_installs_it() -> None:
    hint = missing_extra("serve", ModuleNotFoundError("No module named 'uvicorn'", name="uvicorn"))
    assert hint == (
        "imgpipe: 'serve' needs uvicorn, which imgpipe's 'serve' extra installs: "
        "pip install 'imgpipe[serve]'"
    )
    assert missing_extra("process", ModuleNotFoundError(name="numpy")) is None


def test_every_hinted_package_is_installed_by_the_extra_it_names() -> None:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    owners = importlib.metadata.packages_distributions()
    for module, extra in EXTRA_OF_PACKAGE.items():
        # Not installed here (the Redshift driver): its distribution is named like the module.
        names = owners.get(module, [module])
        distributions = {name.lower().replace("_", "-") for name in names}
        required = {req.name.lower() for req in requirements_for((extra,), project)}
        assert distributions & required, f"{module}: imgpipe[{extra}] does not install it"


def complete(words: list[str], tmp_path: Path) -> list[str]:
    """What bash offers after `words`, with the script `imgpipe completion bash` prints."""
    completion = tmp_path / "imgpipe.bash"
    completion.write_text(script("bash"))
    line = " ".join(words)
    program = (
        f"source {completion}\n"
        f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; COMP_LINE='{line}'; "
        f"COMP_POINT={len(line)}\n"
        "_shtab_imgpipe imgpipe\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    return done.stdout.split()


def test_bash_completes_command_names_and_each_commands_options(tmp_path: Path) -> None:
    assert complete(["imgpipe", "up"], tmp_path) == ["upload"]
    assert set(complete(["imgpipe", ""], tmp_path)) >= set(COMMANDS)
    assert "--rendition" in complete(["imgpipe", "get", "--"], tmp_path)
    assert "--direct-limit" in complete(["imgpipe", "upload", "--"], tmp_path)
    assert complete(["imgpipe", "completion", ""], tmp_path) == ["bash", "zsh"]


def test_bash_completes_file_arguments_with_file_names(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"")
    assert "photo.jpg" in complete(["imgpipe", "upload", "pho"], tmp_path)


def test_zsh_script_is_a_compdef_naming_every_command() -> None:
    text = script("zsh")
    assert text.startswith("#compdef imgpipe")
    for name in COMMANDS:
        assert f"{name}:'" in text, name


def test_the_readme_lists_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in COMMANDS if f"\nimgpipe {name} " not in readme]
    assert not missing
