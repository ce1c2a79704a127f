import numpy as np
import numpy.typing as npt

def parse_floats(
    data: bytes, out: npt.NDArray[np.float64], separator: str, columns: int, rows: int, /
) -> int: ...
def line_breaks(data: bytes, /) -> int: ...
