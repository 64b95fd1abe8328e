"""Render an `Architecture` with the `diagrams` package (Graphviz underneath).

`render(arch, directory)` writes `<name>.png` and `<name>.dot`; the DOT is made
deterministic (node ids from the description, icon paths relative to the `diagrams`
package) so it can be committed and compared in a test. `show(arch)` displays it inline
in a notebook. Without Graphviz's `dot`, rendering raises one `WorkshopError` line with the
install command; nothing else in a notebook depends on a diagram.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from .architecture import Architecture
from .errors import WorkshopError

#: architecture kinds -> `diagrams` classes (module, class name)
KINDS: dict[str, tuple[str, str]] = {
    "user": ("diagrams.onprem.client", "Users"),
    "client": ("diagrams.onprem.client", "Client"),
    "route53": ("diagrams.aws.network", "Route53"),
    "eip": ("diagrams.aws.network", "Endpoint"),
    "vpc": ("diagrams.aws.network", "VPC"),
    "ec2": ("diagrams.aws.compute", "EC2"),
    "autoscaling": ("diagrams.aws.compute", "EC2AutoScaling"),
    "lambda": ("diagrams.aws.compute", "Lambda"),
    "elb": ("diagrams.aws.network", "ELB"),
    "alb": ("diagrams.aws.network", "ALB"),
    "rds": ("diagrams.aws.database", "RDS"),
    "rds-standby": ("diagrams.aws.database", "RDS"),
    "rds-replica": ("diagrams.aws.database", "RDS"),
    "dynamodb": ("diagrams.aws.database", "Dynamodb"),
    "elasticache": ("diagrams.aws.database", "ElastiCache"),
    "redshift": ("diagrams.aws.database", "Redshift"),
    "s3": ("diagrams.aws.storage", "S3"),
    "cloudfront": ("diagrams.aws.network", "CloudFront"),
    "apigateway": ("diagrams.aws.network", "APIGateway"),
    "firehose": ("diagrams.aws.analytics", "KinesisDataFirehose"),
    "emr": ("diagrams.aws.analytics", "EMR"),
    "cloudwatch": ("diagrams.aws.management", "Cloudwatch"),
}

INSTALL_DOT = (
    "Graphviz's `dot` is not installed, so diagrams cannot be drawn: "
    "sudo apt-get install graphviz (Debian/Ubuntu) · brew install graphviz (macOS) · conda install -c conda-forge graphviz"
)


def graphviz_ready() -> bool:
    """True when Graphviz's `dot` is on PATH; otherwise print the install command once."""
    if shutil.which("dot") is None:
        print(f"(diagram skipped) {INSTALL_DOT}")
        return False
    return True


def require_dot() -> None:
    if shutil.which("dot") is None:
        raise WorkshopError(INSTALL_DOT)


def _diagrams_root() -> str:
    import diagrams

    return str(Path(diagrams.__file__).resolve().parent.parent)


def _build(arch: Architecture, filename: str, outformat, render: bool = True):
    from diagrams import Cluster, Diagram, Edge, setdiagram

    by_group: dict[str | None, list] = {}
    for node in arch.nodes:
        by_group.setdefault(node.group, []).append(node)
    children: dict[str | None, list] = {}
    for group in arch.groups:
        children.setdefault(group.parent, []).append(group)
    made = {}

    def place(group_id: str | None):
        for node in by_group.get(group_id, []):
            module, cls = KINDS.get(node.kind, ("diagrams.generic.blank", "Blank"))
            made[node.id] = getattr(importlib.import_module(module), cls)(node.label, nodeid=node.id)
        for group in children.get(group_id, []):
            with Cluster(group.label):
                place(group.id)

    attrs = {"fontsize": "20", "pad": "0.4", "splines": "spline"}
    d = Diagram(arch.name, filename=filename, outformat=outformat, show=False, direction="LR", graph_attr=attrs)
    d.__enter__()
    try:
        place(None)
        for edge in arch.edges:
            made[edge.src] >> Edge(label=edge.label) >> made[edge.dst]
    except BaseException:
        setdiagram(None)
        raise
    if render:
        d.__exit__(None, None, None)
    else:
        setdiagram(None)
    return d


def dot_source(arch: Architecture) -> str:
    """The diagram's DOT source before layout, stable across machines (icon paths made relative)."""
    d = _build(arch, "unused", "dot", render=False)
    return _normalise(d.dot.source)


def _normalise(text: str) -> str:
    return text.replace(_diagrams_root() + os.sep, "{diagrams}/")


def render(arch: Architecture, directory: str | os.PathLike, name: str | None = None) -> Path:
    """Write `<name>.png` and `<name>.dot` (normalised) into `directory`; return the PNG path."""
    require_dot()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = name or re.sub(r"[^a-z0-9]+", "_", arch.name.lower()).strip("_")
    _build(arch, str(directory / stem), "png")
    (directory / f"{stem}.dot").write_text(dot_source(arch))
    return directory / f"{stem}.png"


def png_bytes(arch: Architecture) -> bytes:
    """The diagram as PNG bytes, without touching the disk."""
    require_dot()
    with tempfile.TemporaryDirectory() as tmp:
        _build(arch, os.path.join(tmp, "arch"), "png")
        return Path(tmp, "arch.png").read_bytes()


def show(arch: Architecture, width: int | None = 900):
    """Display the diagram inline in a notebook (or say, in one line, why it cannot)."""
    from IPython.display import Image, display

    try:
        display(Image(data=png_bytes(arch), width=width))
    except WorkshopError as exc:
        print(f"(diagram skipped) {exc}")
