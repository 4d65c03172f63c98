"""`kubexms artifact`: download, bundle and import the binaries a cluster needs."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from kubexms.artifacts import (
    NOARCH,
    ArtifactError,
    ArtifactPlan,
    ArtifactSettings,
    ArtifactStore,
    Bom,
    artifact_settings,
    check_arches,
    create_bundle,
    host_architectures,
    import_bundle,
    load_bom,
    parse_artifact_settings,
    plan_artifacts,
    prepare_artifacts,
)
from kubexms.cli._cluster import err_console, load_cluster
from kubexms.cli._console import output_console
from kubexms.cli._images import app as images_app
from kubexms.config import Cluster
from kubexms.engine import RetryPolicy

app = typer.Typer(
    help="Download, bundle and import the binaries and manifests a cluster needs.",
    no_args_is_help=True,
)
app.add_typer(images_app, name="images")

FileOption = Annotated[
    Path | None, typer.Option("--file", "-f", help="Cluster file.", show_default=False)
]
ArchOption = Annotated[
    list[str] | None,
    typer.Option(
        "--arch",
        help="Architecture of hosts without `arch:` (repeat for several). "
        "Default: detect by connecting to them.",
        show_default=False,
    ),
]
SettingsOption = Annotated[
    Path | None,
    typer.Option(
        "--settings",
        help="YAML file shaped like spec.artifacts (mirror, urlRewrites, overrides); it "
        "replaces that section of the cluster file.",
        show_default=False,
    ),
]
MirrorOption = Annotated[
    str | None,
    typer.Option(
        "--mirror",
        help="Fetch from this http(s):// or file:// mirror laid out as "
        "<component>/<version>/<arch>/<file>.",
        show_default=False,
    ),
]
OnlyOption = Annotated[
    str | None,
    typer.Option("--only", help="Comma-separated components (default: all).", show_default=False),
]
DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir", help="Artifact store (default: <workDir>/artifacts).", show_default=False
    ),
]
BomOption = Annotated[
    Path | None,
    typer.Option("--bom", help="Another bill of materials file.", show_default=False),
]


def _fail(message: str) -> typer.Exit:
    # Soft wrap: URLs and digests in messages must stay whole for copying.
    err_console.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True)
    return typer.Exit(1)


def _require_cluster(file: Path | None) -> Cluster:
    if file is None:
        raise _fail("pass the cluster file with -f cluster.yaml")
    return load_cluster(file)


def _settings(cluster: Cluster, settings_file: Path | None, mirror: str | None) -> ArtifactSettings:
    if settings_file is None:
        settings = artifact_settings(cluster)
    else:
        try:
            data = yaml.safe_load(settings_file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise _fail(f"cannot read {settings_file}: {error}") from None
        settings = parse_artifact_settings(data, str(settings_file))
    return settings.merged(mirror=mirror)


def _store(cluster: Cluster | None, directory: Path | None) -> ArtifactStore:
    if directory is not None:
        return ArtifactStore(directory)
    assert cluster is not None
    return ArtifactStore.for_cluster(cluster)


def _only(only: str | None) -> list[str] | None:
    return [name.strip() for name in only.split(",") if name.strip()] if only else None


async def _plan(
    cluster: Cluster,
    settings: ArtifactSettings,
    bom: Bom,
    arches: list[str] | None,
    only: list[str] | None,
    *,
    detect: bool,
    store: ArtifactStore | None = None,
) -> ArtifactPlan:
    assume = check_arches(arches or [])
    if not assume and not detect and store is not None:
        # Bundling works offline: hosts of unknown architecture take what the store has.
        assume = sorted(set(store.manifest().arches) - {NOARCH})
    host_arches = await host_architectures(cluster, assume=assume, detect=detect)
    plan = plan_artifacts(cluster, host_arches, bom=bom, settings=settings)
    return plan.select(only) if only else plan


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


@app.command("download")
def download(
    file: FileOption = None,
    arch: ArchOption = None,
    settings_file: SettingsOption = None,
    mirror: MirrorOption = None,
    only: OnlyOption = None,
    directory: DirOption = None,
    bom_file: BomOption = None,
    retries: Annotated[int, typer.Option("--retries", min=0, max=20)] = 3,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bars.")] = False,
) -> None:
    """Download and verify every artifact the cluster needs into its work dir.

    With spec.artifacts.offlineBundle set, that bundle is imported (verified) instead.
    """
    cluster = _require_cluster(file)
    try:
        settings = _settings(cluster, settings_file, mirror)
        bom = load_bom(bom_file)
        store = _store(cluster, directory)
        plan = asyncio.run(_plan(cluster, settings, bom, arch, _only(only), detect=True))
        show = not no_progress and sys.stderr.isatty()
        results = asyncio.run(
            prepare_artifacts(
                plan,
                store,
                settings,
                retry=RetryPolicy(retries=retries),
                progress=_progress if show else None,
            )
        )
    except ArtifactError as error:
        raise _fail(str(error)) from None
    fetched = sum(result.fetched for result in results)
    typer.echo(
        f"{len(results)} artifacts in {store.root} ({fetched} downloaded, "
        f"{len(results) - fetched} already present and valid)"
    )


@app.command("bundle")
def bundle(
    output: Annotated[Path, typer.Option("--output", "-o", help="The bundle to write.")] = Path(
        "kubexms-artifacts.tar.gz"
    ),
    file: FileOption = None,
    arch: ArchOption = None,
    settings_file: SettingsOption = None,
    only: OnlyOption = None,
    directory: DirOption = None,
    bom_file: BomOption = None,
) -> None:
    """Pack the cluster's downloaded artifacts and a manifest into one tar.gz for offline use."""
    cluster = _require_cluster(file)
    try:
        settings = _settings(cluster, settings_file, None)
        bom = load_bom(bom_file)
        store = _store(cluster, directory)
        plan = asyncio.run(
            _plan(cluster, settings, bom, arch, _only(only), detect=False, store=store)
        )
        manifest = create_bundle(store, output, plan=plan)
    except ArtifactError as error:
        raise _fail(str(error)) from None
    size = output.stat().st_size
    typer.echo(
        f"{output}: {len(manifest.artifacts)} artifacts for {', '.join(manifest.arches)} "
        f"({size / 1e6:.1f} MB)"
    )


@app.command("import")
def import_(
    bundle_file: Annotated[
        Path, typer.Argument(help="A bundle made by `kubexms artifact bundle`.")
    ],
    file: FileOption = None,
    directory: DirOption = None,
    bom_file: BomOption = None,
) -> None:
    """Verify a bundle (manifest and every file) and put its artifacts in the work dir."""
    if file is None and directory is None:
        raise _fail("pass the cluster file (-f cluster.yaml) or the store (--dir DIR)")
    cluster = load_cluster(file) if file is not None else None
    try:
        store = _store(cluster, directory)
        manifest = import_bundle(bundle_file, store, bom=load_bom(bom_file))
    except ArtifactError as error:
        raise _fail(str(error)) from None
    typer.echo(f"imported {len(manifest.artifacts)} verified artifacts into {store.root}")


@app.command("list")
def list_(
    file: FileOption = None,
    arch: ArchOption = None,
    settings_file: SettingsOption = None,
    bom_file: BomOption = None,
) -> None:
    """Show what the cluster needs: versions, architectures, URLs and where each sha256 is from."""
    cluster = _require_cluster(file)
    try:
        settings = _settings(cluster, settings_file, None)
        plan = asyncio.run(_plan(cluster, settings, load_bom(bom_file), arch, None, detect=True))
    except ArtifactError as error:
        raise _fail(str(error)) from None
    table = Table(title=f"Artifacts for {plan.cluster} (Kubernetes {plan.kubernetes_version})")
    for column in ("component", "version", "arch", "hosts", "sha256 from", "url"):
        table.add_column(column)
    for artifact in plan.artifacts:
        hosts = plan.hosts_for(artifact)
        source = artifact.checksum_source or (
            f"published: {artifact.checksum_url}" if artifact.checksum_url else "[red]none[/]"
        )
        table.add_row(
            artifact.component,
            artifact.version,
            artifact.arch,
            str(len(hosts)),
            source,
            artifact.url,
        )
    output_console().print(table)
