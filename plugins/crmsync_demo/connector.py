"""The ``demo`` connector: a deterministic, realistic B2B CRM generated on the fly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from crmsync import HISTORY_FIELDS, Batch, ConfigError, Connector, ConnectorError, Setting
from crmsync_demo.cut import parse_cut
from crmsync_demo.dataset import ENTITIES, SIZES, DemoDataset

__all__ = ["DemoConnector"]


class DemoConnector(Connector):
    """A seeded generator of a B2B sales CRM: the embedded default of ``crmsync demo``.

    The dataset is static for given settings, so the cursor of every entity is simply how
    many of its records were already emitted, with the dataset it counts in:
    ``{"offset": n, "dataset": "small:42:2026-09-30"}``.
    """

    NAME: ClassVar[str] = "demo"
    DEMO_AS_OF: ClassVar[str | None] = "2026-09-30"
    ENTITIES: ClassVar[tuple[str, ...]] = ENTITIES
    SETTINGS: ClassVar[Mapping[str, Setting]] = {
        "size": Setting(str, "dataset size: small (seconds), medium (~10x) or large "
                             "(>= 100,000 deals, >= 1,000,000 activities)",
                        default="small", choices=tuple(SIZES)),
        "seed": Setting(int, "random seed; the same seed and settings give the same records",
                        default=42),
        "as_of": Setting(str, "the dataset's today (ISO date); history covers the two years "
                              "before it", default=DEMO_AS_OF),
        "batch_size": Setting(int, "records per batch", default=2000),
        "cut_at": Setting(str, "give the dataset as it stood at this instant (ISO date or "
                               "date and time, UTC) instead of as of as_of",
                          default=None),
    }

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        self._dataset: DemoDataset | None = None

    @classmethod
    def validate_settings(cls, raw: Mapping[str, Any], *, file: str | None = None,
                          section: str | None = None) -> dict[str, Any]:
        """Check ``raw`` like :meth:`Connector.validate_settings`, and the values' ranges."""
        settings = super().validate_settings(raw, file=file, section=section)
        try:
            dt.date.fromisoformat(settings["as_of"])
        except ValueError:
            raise ConfigError(f"expected an ISO date such as 2026-09-30, got "
                              f"{settings['as_of']!r}", file=file, section=section,
                              key="as_of") from None
        if settings["cut_at"] is not None:
            try:
                parse_cut(settings["cut_at"])
            except ValueError:
                raise ConfigError(f"expected an ISO date or date and time in UTC such as "
                                  f"2026-07-01, got {settings['cut_at']!r}", file=file,
                                  section=section, key="cut_at") from None
        if settings["batch_size"] < 1:
            raise ConfigError(f"expected a positive number, got {settings['batch_size']}",
                              file=file, section=section, key="batch_size")
        return settings

    @property
    def dataset(self) -> DemoDataset:
        """The generated CRM, set up on first use."""
        if self._dataset is None:
            cut_at = self.settings.get("cut_at")
            self._dataset = DemoDataset(self.settings["size"], self.settings["seed"],
                                        dt.date.fromisoformat(self.settings["as_of"]),
                                        parse_cut(cut_at) if cut_at else None)
        return self._dataset

    def check(self) -> str:
        """Describe the dataset; there is nothing to authenticate against."""
        s = self.settings
        cut = f", cut at {s['cut_at']}" if s.get("cut_at") else ""
        return f"demo CRM (size {s['size']}, seed {s['seed']}, as of {s['as_of']}{cut})"

    def history_fields(self) -> frozenset[str]:
        """Every tracked field: the demo CRM keeps the history of them all."""
        return frozenset(HISTORY_FIELDS)

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        """Yield ``entity``'s records after ``cursor`` in batches of ``batch_size``.

        :param cursor: ``None`` for a full read, else ``{"offset": n}`` from an earlier batch.
        """
        if entity not in ENTITIES:
            raise ConnectorError(f"the demo connector has no entity {entity!r}",
                                 connection=self.name, entity=entity)
        # An offset only means something for the dataset it was taken from: after a change
        # of size, seed or as_of the read starts over instead of mixing two datasets.
        fingerprint = self.fingerprint
        same = bool(cursor) and cursor.get("dataset", fingerprint) == fingerprint
        offset = int(cursor["offset"]) if same else 0
        size = self.settings["batch_size"]
        batch: list[dict[str, Any]] = []
        emitted = offset
        for record in self.dataset.records(entity, offset):
            batch.append(record)
            if len(batch) == size:
                emitted += size
                yield Batch(records=batch, cursor={"offset": emitted, "dataset": fingerprint})
                batch = []
        if batch:
            emitted += len(batch)
            yield Batch(records=batch, cursor={"offset": emitted, "dataset": fingerprint})

    @property
    def fingerprint(self) -> str:
        """Identifies the generated dataset: ``size:seed:as_of``, then ``:cut_at`` if set."""
        s = self.settings
        cut = f":{s['cut_at']}" if s.get("cut_at") else ""
        return f"{s['size']}:{s['seed']}:{s['as_of']}{cut}"
