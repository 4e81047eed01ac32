"""What an image that comes before its message costs the ingest (issue 15), against one stored in clear.

The radar agent publishes a violation's image before the violation. Central cannot tell it from a
passage's then, so it stores it sealed (`rows.seal_early_image`) and the projection of the violation
claims it into the evidence blobs (`rows.keep_early_evidence`): the image is written twice. The baseline is the same
images stored in clear on arrival (`rows.store_evidence`, what an image arriving after its violation
costs). Both on central's SQLite event store (WAL, synchronous=FULL), in batches as the ingest writes
them, in alternating rounds (a shared disk drifts); each figure is images over the summed time.

    .venv/bin/python bench/early_image_bench.py [--images 200] [--size 60000] [--batch 50] [--rounds 6]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
import uuid
from pathlib import Path

from speedledger.central.eventstore import create_event_store
from speedledger.central.ingest import rows, tables
from speedledger.central.ingest.classify import JPEG_MAGIC, EvidenceImage
from speedledger.central.registration.personal_data import InMemoryKeyVault
from speedledger.central.sections.retention import PassageWindows, retention_ms


def images(count: int, size: int) -> list[EvidenceImage]:
    made = [JPEG_MAGIC + os.urandom(size) for _ in range(count)]
    return [EvidenceImage(str(uuid.uuid4()), hashlib.sha256(content).hexdigest(), content) for content in made]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200, help="images per round and contender")
    parser.add_argument("--size", type=int, default=60_000, help="bytes per image (a plate crop JPEG)")
    parser.add_argument("--batch", type=int, default=50, help="images per transaction")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="early-image-bench-", dir=Path.cwd()) as tmp:
        store = create_event_store(f"sqlite:///{tmp}/central.db")
        engine = store.engine
        tables.create_tables(engine)
        windows = PassageWindows(InMemoryKeyVault(), retention_ms(24), lambda: time.time_ns() // 1_000_000)
        spent = {"clear": 0.0, "early": 0.0}
        for _ in range(args.rounds):
            clear, early = images(args.images, args.size), images(args.images, args.size)
            started = time.perf_counter()
            for at in range(0, args.images, args.batch):
                with engine.begin() as conn:
                    for image in clear[at : at + args.batch]:
                        rows.store_evidence(conn, image, "R-1", 1)
            spent["clear"] += time.perf_counter() - started
            started = time.perf_counter()
            for at in range(0, args.images, args.batch):
                with engine.begin() as conn:  # the images' batch
                    for image in early[at : at + args.batch]:
                        rows.record_arrival(conn, image, "R-1", 1)
                        rows.seal_early_image(conn, windows, image)
                with engine.begin() as conn:  # their violations projected
                    for image in early[at : at + args.batch]:
                        rows.keep_early_evidence(conn, windows, image.event_id, image.sha256)
            spent["early"] += time.perf_counter() - started
        store.close()
    total = args.images * args.rounds
    per_image = {name: seconds / total * 1e6 for name, seconds in spent.items()}
    print(f"{total} images of {args.size} bytes each way, {args.batch} a transaction, {args.rounds} alternating rounds")
    print(f"  in clear on arrival        {per_image['clear']:8.0f} us/image")
    print(f"  sealed, then claimed       {per_image['early']:8.0f} us/image")
    print(f"  ratio early/clear = {per_image['early'] / per_image['clear']:.2f}")


if __name__ == "__main__":
    main()
