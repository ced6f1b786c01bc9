"""Geohash cells and distances for region-based jobs: which index partitions cover a worker's position.

A region-based job (a circle: centre and radius) is filed under the geohash cell of its centre at
the finest of LEVELS whose cells are at least as wide and as high as the radius. Every point
within the radius of the centre then lies in that cell or one of its 8 neighbours, so a worker
finds every job that may reach them by reading, per level, their own cell and its neighbours:
3 levels x 9 cells, whatever the number of jobs. Circles too large for the coarsest level are
filed with the jobs that have no region and checked by distance alone.
"""

from __future__ import annotations

import math

_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
_DECODE = {c: i for i, c in enumerate(_BASE32)}
EARTH_RADIUS_M = 6_371_008.8
_METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180
# Geohash lengths used as index levels: ~1250 x 625 km, ~39 x 19.5 km and ~1.2 x 0.6 km cells.
LEVELS = (2, 4, 6)


def encode(lat: float, lng: float, precision: int) -> str:
    """The geohash of a point, `precision` characters long."""
    lat_range, lng_range = [-90.0, 90.0], [-180.0, 180.0]
    chars: list[str] = []
    bits, value, even = 0, 0, True
    while len(chars) < precision:
        span, point = (lng_range, lng) if even else (lat_range, lat)
        middle = (span[0] + span[1]) / 2
        value <<= 1
        if point >= middle:
            value |= 1
            span[0] = middle
        else:
            span[1] = middle
        even = not even
        bits += 1
        if bits == 5:
            chars.append(_BASE32[value])
            bits, value = 0, 0
    return "".join(chars)


def bounds(cell: str) -> tuple[float, float, float, float]:
    """(south, west, north, east) of a geohash cell."""
    lat_range, lng_range = [-90.0, 90.0], [-180.0, 180.0]
    even = True
    for char in cell:
        value = _DECODE[char]
        for shift in range(4, -1, -1):
            span = lng_range if even else lat_range
            middle = (span[0] + span[1]) / 2
            if value >> shift & 1:
                span[0] = middle
            else:
                span[1] = middle
            even = not even
    return lat_range[0], lng_range[0], lat_range[1], lng_range[1]


def cell_degrees(precision: int) -> tuple[float, float]:
    """(height, width) of any cell of that length, in degrees."""
    lng_bits = (5 * precision + 1) // 2
    lat_bits = 5 * precision // 2
    return 180.0 / 2**lat_bits, 360.0 / 2**lng_bits


def neighbourhood(cell: str) -> list[str]:
    """The cell and its (up to) 8 neighbours; longitude wraps around, the poles do not."""
    south, west, north, east = bounds(cell)
    height, width = north - south, east - west
    centre_lat, centre_lng = (south + north) / 2, (west + east) / 2
    found: list[str] = []
    for d_lat in (-1, 0, 1):
        lat = centre_lat + d_lat * height
        if not -90 < lat < 90:
            continue
        for d_lng in (-1, 0, 1):
            lng = (centre_lng + d_lng * width + 180) % 360 - 180
            neighbour = encode(lat, lng, len(cell))
            if neighbour not in found:
                found.append(neighbour)
    return found


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lng2 - lng1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def level_for(lat: float, radius_m: float) -> int | None:
    """The finest level whose cells hold the whole circle within one cell of the centre's; None if none."""
    # Longitude degrees shrink towards the poles: measure the width at the circle's most polar latitude.
    polar = min(89.9, abs(lat) + radius_m / _METRES_PER_DEGREE)
    for precision in sorted(LEVELS, reverse=True):
        height, width = cell_degrees(precision)
        height_m = height * _METRES_PER_DEGREE
        width_m = width * _METRES_PER_DEGREE * math.cos(math.radians(polar))
        if radius_m <= min(height_m, width_m):
            return precision
    return None


def cell_for(lat: float, lng: float, radius_m: float) -> str | None:
    """The geohash a region is filed under, or None when the circle is too large for any level."""
    precision = level_for(lat, radius_m)
    return None if precision is None else encode(lat, lng, precision)


def cells_near(lat: float, lng: float) -> list[str]:
    """Every cell, at every level, under which a region containing this point may be filed."""
    return [cell for precision in LEVELS for cell in neighbourhood(encode(lat, lng, precision))]
