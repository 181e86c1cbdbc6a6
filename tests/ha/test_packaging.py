"""What HACS, Home Assistant and the wheel build read: files, versions, icons, texts."""

from __future__ import annotations

import json
from pathlib import Path
import tomllib

from PIL import Image
import yaml

from custom_components.rental_wifi import config_flow, managed

from .conftest import REPO

INTEGRATION = REPO / "custom_components" / "rental_wifi"


def test_brand_icons() -> None:
    """The brand folder has the icons Home Assistant (from 2026.3) and HACS look for:
    square PNGs of the right size with transparent corners (the rounded tile)."""
    for name, size in (("icon.png", 256), ("icon@2x.png", 512)):
        path = INTEGRATION / "brand" / name
        with Image.open(path) as image:
            assert image.format == "PNG", name
            assert image.size == (size, size), name
            assert image.mode == "RGBA", name
            assert image.getpixel((0, 0))[3] == 0, f"{name}: corner not transparent"
            assert image.getpixel((size // 2, size // 10))[3] == 255, name


def test_hacs_and_manifest() -> None:
    """hacs.json and the manifest have what HACS requires; the versions agree."""
    hacs = json.loads((REPO / "hacs.json").read_text())
    assert hacs["name"] == "Rental Wi-Fi"
    assert hacs["zip_release"] is True and hacs["filename"] == "rental_wifi.zip"
    manifest = json.loads((INTEGRATION / "manifest.json").read_text())
    for key in ("domain", "documentation", "issue_tracker", "codeowners", "name", "version"):
        assert manifest[key], key
    # Several entries: a host with two properties (two controllers) connects two sidecars;
    # the config flow allows only one managed one (one data dir, one portal port).
    assert "single_config_entry" not in manifest
    pyproject = tomllib.loads((REPO / "packaging" / "wheel" / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == managed.DISTRIBUTION
    assert pyproject["project"]["dynamic"] == ["version"]  # the crate's version
    maturin = pyproject["tool"]["maturin"]
    assert maturin["bindings"] == "bin"
    crate = (REPO / "packaging" / "wheel" / maturin["manifest-path"]).resolve()
    assert crate == REPO / "sidecar" / "Cargo.toml"
    assert f'name = "{managed.BINARY_NAME}"' in crate.read_text()


def test_release_workflow_builds_the_whole_matrix() -> None:
    """manylinux and musllinux, x86_64 and aarch64, each smoke-tested; HACS zip; PyPI."""
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "release.yml").read_text())
    jobs = workflow["jobs"]
    matrix = jobs["wheels"]["strategy"]["matrix"]
    assert set(matrix["target"]) == {"x86_64", "aarch64"}
    assert set(matrix["libc"]) == {"manylinux", "musllinux"}
    assert jobs["smoke"]["strategy"]["matrix"] == matrix
    assert jobs["pypi"]["needs"] == "smoke"
    assert any("rental_wifi.zip" in str(step) for step in jobs["hacs-zip"]["steps"])
    validate = yaml.safe_load((REPO / ".github" / "workflows" / "validate.yml").read_text())
    assert set(validate["jobs"]) == {"hassfest", "hacs"}


def test_translations() -> None:
    """en.json is strings.json; every action field and section has a name; every repair
    issue and start error the code raises has its text."""
    strings = json.loads((INTEGRATION / "strings.json").read_text())
    assert json.loads((INTEGRATION / "translations" / "en.json").read_text()) == strings
    services = yaml.safe_load((INTEGRATION / "services.yaml").read_text())
    for service, spec in services.items():
        texts = strings["services"][service]
        for field, value in spec.get("fields", {}).items():
            if "fields" in value:  # a section
                assert texts["sections"][field]["name"]
                for inner in value["fields"]:
                    assert texts["fields"][inner]["name"], (service, inner)
            else:
                assert texts["fields"][field]["name"], (service, field)
    for issue in (*managed.START_ISSUES, managed.ISSUE_CRASHING):
        assert strings["issues"][issue]["title"]
    for reason in (*managed.START_ISSUES, "start_failed"):
        assert strings["exceptions"][reason]["message"]
        assert strings["config"]["error"][reason]
    # "Leave blank to keep" only on the forms shown when a secret is stored.
    steps = strings["config"]["step"]
    for step, texts in steps.items():
        keeps = "Leave blank to keep" in json.dumps(texts)
        assert keeps == step.startswith("update_"), step


def test_container_definition() -> None:
    """The image runs `serve` on the two listeners with the data dir as a volume."""
    text = (REPO / "packaging" / "container" / "Containerfile").read_text()
    assert 'VOLUME ["/data"]' in text
    assert "EXPOSE 8765 8766" in text
    assert '"serve", "--data-dir", "/data"' in text
    assert Path(REPO / "sidecar" / "Cargo.toml").exists()


def test_texts_have_no_markup() -> None:
    """The frontend formats texts as ICU messages: a "<" makes "Translation error:
    INVALID_TAG" appear instead of the text (seen in the real UI)."""
    text = (INTEGRATION / "strings.json").read_text()
    assert "<" not in text and ">" not in text


def test_menus_fit_a_phone() -> None:
    """At 390 px the frontend cuts a menu's title and each option to one line with "…"
    (forms wrap): "Run Rental Wi-Fi on this Home Assistant (reco…" hid "recommended", and
    "Hotspot operator account (controller 5.x and 6…" the versions. Details belong in the
    description. The limits are what fitted in the screenshots at that width."""
    strings = json.loads((INTEGRATION / "strings.json").read_text())
    menus = {
        step: texts
        for step, texts in strings["config"]["step"].items()
        if "menu_options" in texts
    }
    assert len(menus) >= 10
    for step, texts in menus.items():
        assert len(texts.get("title", "")) <= 28, (step, texts["title"])
        for option, label in texts["menu_options"].items():
            assert len(label) <= 40, (step, option, label)
    # A repair's title is one line in its dialog, cut without "…" ("Short codes on Beach
    # House can be"): with a unit name of 11 characters it must fit.
    for issue, texts in strings["issues"].items():
        title = texts["title"].replace("{unit}", "Beach House")
        assert "{" not in title and len(title) <= 33, (issue, title)


def test_every_unit_field_error_has_words() -> None:
    """A refusal the sidecar gives for a unit field is shown as `invalid_<field>`, which
    names the field as the form does (its API name, e.g. terms_url, is cut off the
    sidecar's message)."""
    strings = json.loads((INTEGRATION / "strings.json").read_text())
    errors = strings["config_subentries"]["unit"]["error"]
    for field in config_flow._UNIT_FIELDS:
        text = errors[f"invalid_{field}"]
        assert text.endswith("{message}"), field
        assert field not in text, field
