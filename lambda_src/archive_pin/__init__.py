"""A source env's archive pin: at approval, tag the one object version of each archive of the version, for the env that
serves it from another account (docs/promotion.md)."""
