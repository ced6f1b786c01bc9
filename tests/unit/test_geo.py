"""Geohash cells and distances: the region index must never miss a job that reaches the worker."""

from __future__ import annotations

import math
import random

import pytest

from crowdtask import geo


@pytest.mark.parametrize(
    ("lat", "lng", "precision", "expected"),
    [
        (57.64911, 10.40744, 11, "u4pruydqqvj"),  # the reference example of the geohash format
        (52.5200, 13.4050, 6, "u33dc0"),  # Berlin
        (-33.8688, 151.2093, 5, "r3gx2"),  # Sydney
        (0.0, 0.0, 4, "s000"),
    ],
)
def test_encode_matches_known_hashes(lat, lng, precision, expected):
    assert geo.encode(lat, lng, precision) == expected


def test_bounds_contain_the_point_and_have_the_cell_size():
    south, west, north, east = geo.bounds(geo.encode(48.8566, 2.3522, 6))
    assert south <= 48.8566 <= north and west <= 2.3522 <= east
    height, width = geo.cell_degrees(6)
    assert math.isclose(north - south, height) and math.isclose(east - west, width)


def test_neighbourhood_is_the_cell_and_eight_around_it_wrapping_longitude():
    cell = geo.encode(10.0, 179.99, 4)
    around = geo.neighbourhood(cell)
    assert len(around) == 9 and around[4] == cell
    assert any(geo.bounds(n)[1] < -179 for n in around)  # wrapped to the far side of the antimeridian
    assert len(geo.neighbourhood(geo.encode(89.99, 0, 2))) == 6  # no row beyond the pole


def test_distance_is_haversine():
    berlin_to_paris = geo.distance_m(52.5200, 13.4050, 48.8566, 2.3522)
    assert 876_000 < berlin_to_paris < 880_000
    assert geo.distance_m(1, 1, 1, 1) == 0


@pytest.mark.parametrize(("radius", "level"), [(300, 6), (5_000, 4), (150_000, 2), (2_000_000, None)])
def test_a_region_is_filed_at_the_finest_level_its_circle_fits(radius, level):
    assert geo.level_for(45.0, radius) == level


def test_every_point_inside_a_region_finds_the_regions_cell():
    rng = random.Random(7)
    for _ in range(400):
        lat, lng = rng.uniform(-80, 80), rng.uniform(-180, 180)
        radius = 10 ** rng.uniform(1.5, 5.7)
        cell = geo.cell_for(lat, lng, radius)
        if cell is None:
            continue
        # a point at the edge of the circle, in a random direction
        bearing = rng.uniform(0, 2 * math.pi)
        d_lat = radius * 0.999 * math.cos(bearing) / 111_195
        d_lng = radius * 0.999 * math.sin(bearing) / (111_195 * math.cos(math.radians(lat + d_lat)))
        point = (lat + d_lat, (lng + d_lng + 180) % 360 - 180)
        assert cell in geo.cells_near(*point), (lat, lng, radius, point)
