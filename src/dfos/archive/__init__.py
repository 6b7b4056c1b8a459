"""Archives that hold raw frames: the embedded local archive (:mod:`.local`), clients for it and for
HTTP archives (:mod:`.client`), and the HTTP server (:mod:`.server`)."""

from dfos.archive.local import LocalArchive

__all__ = ["LocalArchive"]
