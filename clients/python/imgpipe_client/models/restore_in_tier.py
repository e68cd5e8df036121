from enum import StrEnum


class RestoreInTier(StrEnum):
    BULK = "Bulk"
    STANDARD = "Standard"

    def __str__(self) -> str:
        return str(self.value)
