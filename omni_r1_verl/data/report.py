"""The validation report of ``omni-r1 prepare``: every problem found in a dataset, as JSON and as a summary.

Nothing is dropped silently: a sample that cannot be converted is skipped with an ``error`` entry naming the file
and the reason, and listed in ``skipped_samples``; a repaired or suspicious sample is kept with a ``warning``
entry. With ``--on-error fail`` any error aborts the conversion and nothing is written but the report.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any


class Severity(str, Enum):
    """How a problem affects the output."""

    #: The affected samples are skipped (and the run fails with ``--on-error fail``).
    ERROR = "error"
    #: The affected samples are kept, possibly repaired (the entry says how).
    WARNING = "warning"


#: Every issue code: its severity and what it means (docs/data.md renders this table).
ISSUE_CODES: dict[str, tuple[Severity, str]] = {
    "missing_frame": (Severity.ERROR, "a frame listed by the metadata is not on disk"),
    "corrupt_frame": (Severity.ERROR, "a frame or image cannot be decoded"),
    "no_frames": (Severity.ERROR, "a video has no frames"),
    "missing_audio": (Severity.ERROR, "the audio track is not on disk"),
    "corrupt_audio": (Severity.ERROR, "the audio track cannot be decoded"),
    "missing_mask": (Severity.ERROR, "a ground-truth mask (RLE entry or PNG) is missing"),
    "corrupt_mask": (Severity.ERROR, "a ground-truth mask is malformed (bad RLE, undecodable PNG)"),
    "frame_count_mismatch": (Severity.ERROR, "masks and frames of a video differ in number"),
    "empty_expression": (Severity.ERROR, "the referring expression is empty"),
    "duplicate_id": (Severity.ERROR, "a sample id occurs again with different content (the repeat is dropped)"),
    "unsafe_path": (Severity.ERROR, "a path escapes the dataset root (absolute, '..' or a symlink out)"),
    "bad_record": (Severity.ERROR, "a metadata record has missing fields or wrong types"),
    "bad_solution": (Severity.ERROR, "a refCOCOg solution string cannot be parsed or lies outside the image"),
    "internal_error": (Severity.ERROR, "the converter failed on this unit (a bug: please report it)"),
    "worker_died": (Severity.ERROR, "the process converting this unit died or hung, also on a retry"),
    "unknown_split": (Severity.WARNING, "a row's split is not a known split (e.g. 'TODO'): it is in no split"),
    "duplicate_row": (Severity.WARNING, "an exact repeat of an earlier record (dropped: nothing is lost)"),
    "mask_size_mismatch": (Severity.WARNING, "a mask's size differs from its frame's (resized, nearest neighbour)"),
    "frame_size_mismatch": (Severity.WARNING, "frame sizes disagree with the metadata or within a video"),
    "unsorted_frames": (Severity.WARNING, "a video's frame list is not sorted (kept in listed order, as the masks)"),
    "missing_foreground": (Severity.WARNING, "no usable foreground masks (robustness metric R unavailable)"),
    "unknown_type": (Severity.WARNING, "an expression type id outside the documented ones"),
    "vid_mismatch": (Severity.WARNING, "RefAVS 'vid' column disagrees with the video id inside 'uid' ('vid' used)"),
    "size_mismatch": (Severity.WARNING, "an image's size differs from the size recorded next to it"),
}

#: What happens to the samples an issue lists: errors skip them; these warnings leave them out of the split.
_EXCLUDING_WARNINGS = {"unknown_split": "excluded", "duplicate_row": "dropped"}


@dataclass
class Issue:
    """One problem found while converting.

    Attributes:
        code: One of :data:`ISSUE_CODES`.
        message: What is wrong, in words.
        file: The offending file, relative to the dataset root when inside it.
        samples: Sample ids affected (skipped for an error, kept for a warning).
        severity: Taken from :data:`ISSUE_CODES` unless given.
    """

    code: str
    message: str
    file: str = ""
    samples: list[str] = field(default_factory=list)
    severity: Severity | None = None

    def __post_init__(self) -> None:
        if self.code not in ISSUE_CODES:
            raise ValueError(f"unknown issue code {self.code!r}")
        self.severity = Severity(self.severity or ISSUE_CODES[self.code][0])

    def to_dict(self) -> dict[str, Any]:
        """JSON form, with the action taken on the samples."""
        data = asdict(self)
        data["severity"] = self.severity.value
        data["action"] = self.action
        return data

    @property
    def action(self) -> str:
        """What happened to :attr:`samples`: ``skipped`` (errors), ``kept``, ``excluded`` or ``dropped``."""
        if self.severity is Severity.ERROR:
            return "skipped"
        return _EXCLUDING_WARNINGS.get(self.code, "kept")


class DatasetLayoutError(RuntimeError):
    """The dataset cannot be read at all (missing or unparsable metadata): nothing is converted."""


@dataclass
class ValidationReport:
    """All issues of one ``prepare`` run plus its counts.

    Attributes:
        dataset: Converter name.
        split: Split converted.
        root: Dataset root.
        on_error: ``skip`` or ``fail``.
        issues: Everything found, in discovery order.
        samples_total: Samples the metadata describes for this split.
        samples_written: Rows written.
        fatal: Set when the dataset could not be read at all.
        stats: Extra figures (row sizes, store size, timings).
    """

    dataset: str
    split: str
    root: str
    on_error: str = "skip"
    issues: list[Issue] = field(default_factory=list)
    samples_total: int = 0
    samples_written: int = 0
    fatal: str = ""
    stats: dict[str, Any] = field(default_factory=dict)

    def extend(self, issues: Iterable[Issue]) -> None:
        """Add issues."""
        self.issues.extend(issues)

    @property
    def errors(self) -> list[Issue]:
        """Issues that skip samples."""
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        """Issues that keep samples."""
        return [i for i in self.issues if i.severity is Severity.WARNING]

    def skipped_samples(self) -> list[str]:
        """Every sample id an error skipped, sorted."""
        return sorted({s for issue in self.errors for s in issue.samples})

    def excluded_samples(self) -> list[str]:
        """Sample ids left out of the split by a warning (unknown split), sorted."""
        return sorted({s for issue in self.warnings if issue.action == "excluded" for s in issue.samples})

    def to_dict(self) -> dict[str, Any]:
        """The JSON report."""
        return {
            "dataset": self.dataset,
            "split": self.split,
            "root": self.root,
            "on_error": self.on_error,
            "fatal": self.fatal,
            "samples_total": self.samples_total,
            "samples_written": self.samples_written,
            "samples_skipped": len(self.skipped_samples()),
            "errors": dict(sorted(Counter(i.code for i in self.errors).items())),
            "warnings": dict(sorted(Counter(i.code for i in self.warnings).items())),
            "skipped_samples": self.skipped_samples(),
            "excluded_samples": self.excluded_samples(),
            "stats": self.stats,
            "issues": [i.to_dict() for i in self.issues],
        }

    def summary(self, examples: int = 3) -> str:
        """Human-readable summary: counts per code with a few examples each.

        Args:
            examples: Examples shown per issue code.

        Returns:
            Multi-line text.
        """
        head = f"{self.dataset}/{self.split}: "
        if self.fatal:
            return head + f"not converted: {self.fatal}"
        skipped = self.skipped_samples()
        lines = [
            head + f"{self.samples_written} of {self.samples_total} samples written, {len(skipped)} skipped, "
            f"{len(self.errors)} errors, {len(self.warnings)} warnings",
            f"  root: {self.root}",
        ]
        if self.stats.get("worker_deaths"):
            lines.append(
                f"  worker processes that died and were replaced: {self.stats['worker_deaths']} (their units were "
                "retried; a unit that failed again is a worker_died error)"
            )
        for title, issues in (("errors (samples skipped)", self.errors), ("warnings (samples kept)", self.warnings)):
            if not issues:
                continue
            lines.append(f"{title}:")
            by_code: dict[str, list[Issue]] = {}
            for issue in issues:
                by_code.setdefault(issue.code, []).append(issue)
            for code, group in sorted(by_code.items()):
                lines.append(f"  {code:<22}{len(group):>7}  ({ISSUE_CODES[code][1]})")
                for issue in group[:examples]:
                    where = f"{issue.file}: " if issue.file else ""
                    lines.append(f"      {where}{issue.message}")
        if skipped:
            shown = ", ".join(skipped[:examples])
            lines.append(f"skipped samples: {shown}{', ...' if len(skipped) > examples else ''} (all in the report)")
        return "\n".join(lines)

    def write(self, json_path: str | Path, text_path: str | Path | None = None) -> None:
        """Write the JSON report (and the summary next to it).

        Args:
            json_path: Destination of the JSON report.
            text_path: Destination of the summary, if wanted.
        """
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        if text_path is not None:
            Path(text_path).write_text(self.summary(examples=10) + "\n")
