"""Make a small MNIST-style CSV from scikit-learn's bundled digits data.

The Kaggle MNIST layout is a header ``label,pixel0,...,pixel783`` followed by
one row per 28x28 grey-scale image with integer pixel values in 0..255.
scikit-learn ships 1,797 8x8 digit images (values 0..16) that need no
download; each is upscaled 3x with ``np.kron`` to 24x24, padded by two pixels
on every side to 28x28 (MNIST also centres its digits with a margin) and
rescaled to 0..255.

Run as a script to write the file::

    python make_data.py digits.csv
"""

from __future__ import annotations

import sys

import numpy as np

SIDE = 28
SCALE = 3
PAD = (SIDE - 8 * SCALE) // 2


def digits_as_mnist() -> tuple[np.ndarray, np.ndarray]:
    """Return ``(labels, pixels)``: pixels is an (n, 784) uint8 array."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    block = np.ones((SCALE, SCALE), dtype=np.float64)
    big = np.stack([np.kron(image, block) for image in digits.images])
    big = np.pad(big, ((0, 0), (PAD, PAD), (PAD, PAD)))
    pixels = np.rint(big * 255.0 / 16.0).clip(0, 255).astype(np.uint8)
    return digits.target.astype(np.int64), pixels.reshape(len(pixels), SIDE * SIDE)


def write_mnist_csv(path: str) -> int:
    """Write the digits as a Kaggle-layout MNIST CSV at ``path``; return the row count."""
    labels, pixels = digits_as_mnist()
    header = ",".join(["label"] + [f"pixel{i}" for i in range(SIDE * SIDE)])
    table = np.column_stack([labels, pixels])
    np.savetxt(path, table, fmt="%d", delimiter=",", header=header, comments="")
    return len(labels)


def main(argv: list[str]) -> int:
    """Command-line entry point: ``python make_data.py OUT.csv``."""
    if len(argv) != 1:
        print("usage: python make_data.py OUT.csv", file=sys.stderr)
        return 2
    rows = write_mnist_csv(argv[0])
    print(f"wrote {rows} images to {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
