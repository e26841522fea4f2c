from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from project.models.base import Base
from project.models.hotels import Hotel


class Room(Base):
    __tablename__ = "rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    hotel_id: Mapped[int] = mapped_column(ForeignKey("hotels.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(20))
    beds: Mapped[int] = mapped_column(default=1)
    price_per_night: Mapped[Decimal] = mapped_column(Numeric(10, 2))

    hotel: Mapped[Hotel] = relationship()
