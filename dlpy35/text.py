"""Words for messages: a count with its noun, singular or plural as the count asks.

Every layer (data, engine, storage, studies, the command line, the scripts) prints counts, so this
module imports nothing of dlpy35's and any module may import it.
"""

from __future__ import annotations


def plural(n: int, noun: str, plural_form: str | None = None) -> str:
    """`n` and `noun` in the number `n` asks for: ``1 epoch``, ``0 epochs``, ``1,000 images``.

    Parameters
    ----------
    n : int
        The count, written with thousands separators.
    noun : str
        The singular noun.
    plural_form : str, optional
        The plural when it is not ``noun + "s"`` (``"classes"``, ``"mini-batches"``); English
        spelling gives no safe rule (``epochs`` but ``batches``), so the caller says.

    Returns
    -------
    str
        ``"{n} {noun}"`` with the noun singular for exactly one, plural otherwise.

    Examples
    --------
    >>> plural(1, "epoch"), plural(2, "network"), plural(3, "class", "classes"), plural(10000, "image")
    ('1 epoch', '2 networks', '3 classes', '10,000 images')
    """
    if n == 1:
        return f"{n:,} {noun}"
    return f"{n:,} {noun + 's' if plural_form is None else plural_form}"
