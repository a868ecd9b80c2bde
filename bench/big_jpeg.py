#!/usr/bin/env python3
"""Writes a valid JPEG of about SIZE bytes: a real photograph with APP15 segments of padding
after its start marker, which every decoder skips. The large-upload benchmark sends it.

    big_jpeg.py SOURCE.jpg OUT.jpg SIZE_BYTES
"""
import sys

SEGMENT_DATA = 65533  # the most an APPn segment holds after its two length bytes


def main():
    source, out, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    photo = open(source, "rb").read()
    if photo[:2] != b"\xff\xd8":
        sys.exit(f"{source} is not a JPEG")
    segment = b"\xff\xef" + (SEGMENT_DATA + 2).to_bytes(2, "big") + b"\0" * SEGMENT_DATA
    count = max(0, (size - len(photo)) // len(segment))
    with open(out, "wb") as file:
        file.write(photo[:2])
        for _ in range(count):
            file.write(segment)
        file.write(photo[2:])


if __name__ == "__main__":
    main()
