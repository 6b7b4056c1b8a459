"""Archives that hold raw frames: the embedded local archive (:mod:`.local`)."""

from dfos.archive.local import ArchiveFile, LocalArchive

__all__ = ["ArchiveFile", "LocalArchive"]
