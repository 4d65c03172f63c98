"""`kubexms artifact images`: the container images a cluster needs, carried and pushed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from kubexms.artifacts import (
    ArtifactError,
    ArtifactStore,
    ImageRef,
    ImageStore,
    cluster_images,
)
from kubexms.artifacts._image_copy import WantedImage, pull_images, push_images
from kubexms.cli._cluster import err_console, load_cluster
from kubexms.cli._console import output_console
from kubexms.config import Cluster
from kubexms.pki import default_pki_directory

app = typer.Typer(
    help="The container images a cluster needs: list, pull into the store, push to the "
    "private registry.",
    no_args_is_help=True,
)

FileOption = Annotated[Path, typer.Option("--file", "-f", help="Cluster file.")]
NODE_ROLES = ("master", "worker")
REGISTRY_CA = "registry/ca.crt"


def _fail(message: str) -> typer.Exit:
    err_console.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True)
    return typer.Exit(1)


def _auths(cluster: Cluster) -> dict[str, tuple[str, str]]:
    return {
        host: (auth.username, auth.password.get_secret_value())
        for host, auth in cluster.spec.registry.auths.items()
    }


def _images(cluster: Cluster) -> ImageStore:
    return ImageStore(ArtifactStore.for_cluster(cluster))


@app.command("list")
def list_(file: FileOption) -> None:
    """Every image the cluster needs, where it is pulled from, and what the store holds."""
    cluster = load_cluster(file)
    try:
        wanted = cluster_images(cluster)
        stored = {entry.ref: entry for entry in _images(cluster).entries()}
    except ArtifactError as error:
        raise _fail(str(error)) from None
    private = cluster.spec.registry.private_registry
    table = Table(title=f"Images for {cluster.name}")
    for column in ("image", "phase", "roles", "pulled by nodes as", "in the store"):
        table.add_column(column)
    extra = [ref for ref in stored if ref not in {image.ref.name for image in wanted}]
    for image in wanted:
        entry = stored.get(image.ref.name)
        table.add_row(
            str(image.ref),
            image.phase,
            ",".join(sorted(image.roles)),
            image.ref.under(private).name,
            entry.digest if entry else "-",
        )
    for ref in extra:
        entry = stored[ref]
        table.add_row(
            ref,
            "(extra)",
            ",".join(entry.roles),
            ImageRef.parse(ref).under(private).name,
            entry.digest,
        )
    output_console().print(table)


@app.command("pull")
def pull(
    file: FileOption,
    image: Annotated[
        list[str] | None,
        typer.Option("--image", help="Also pull this image (for every node); repeatable."),
    ] = None,
    only_extra: Annotated[
        bool, typer.Option("--only-extra", help="Pull only the --image ones.")
    ] = False,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=32)] = 4,
) -> None:
    """Copy the images into OCI archives in the artifact store (resumable, digest-checked)."""
    cluster = load_cluster(file)
    try:
        wanted = (
            []
            if only_extra
            else [WantedImage(i.ref, tuple(sorted(i.roles))) for i in cluster_images(cluster)]
        )
        for text in image or []:
            wanted.append(WantedImage(ImageRef.parse(text), NODE_ROLES))
    except (ArtifactError, ValueError) as error:
        raise _fail(str(error)) from None
    if not wanted:
        raise _fail("no image to pull")
    insecure = cluster.spec.registry.insecure_registries
    try:
        results = asyncio.run(
            pull_images(
                _images(cluster),
                wanted,
                auths=_auths(cluster),
                insecure=insecure,
                concurrency=concurrency,
            )
        )
    except ArtifactError as error:
        raise _fail(str(error)) from None
    for result in results:
        verb = "pulled" if result.copied else "present"
        typer.echo(f"{verb}  {result.ref}  {result.digest}")


def registry_ca(cluster: Cluster) -> Path | None:
    """The CA the private registry's certificate is checked with (None: the system's)."""
    registry = cluster.spec.registry
    if registry.type == "registry":
        return default_pki_directory(cluster) / REGISTRY_CA
    return registry.ca_file


@app.command("push")
def push(
    file: FileOption,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=32)] = 4,
) -> None:
    """Copy the store's images into spec.registry.privateRegistry, keeping their digests."""
    cluster = load_cluster(file)
    registry = cluster.spec.registry
    if not registry.private_registry:
        raise _fail("spec.registry.privateRegistry is not set: there is nowhere to push")
    store = _images(cluster)
    try:
        if not store.entries():
            raise _fail(f"no image in {store.root}; run `kubexms artifact images pull` first")
        results = asyncio.run(
            push_images(
                store,
                registry.private_registry,
                auths=_auths(cluster),
                ca_file=registry_ca(cluster),
                insecure=registry.insecure_registries,
                concurrency=concurrency,
            )
        )
    except ArtifactError as error:
        raise _fail(str(error)) from None
    for result in results:
        typer.echo(f"pushed  {result.ref}  {result.digest}")
