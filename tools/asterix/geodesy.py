"""WGS84 geodesy as trackcorr does it (src/geo.rs), plus the elevation of a plot whose
height is known.

trackcorr places a detection at `site + r * (cos el sin az, cos el cos az, sin el)` in the
east/north/up frame of the site (geodetic normal), a straight line in ECEF. The functions
here are line-for-line the same formulas, so a point computed here is the point trackcorr
reconstructs.
"""

import math

A = 6_378_137.0  # WGS84 semi-major axis (m)
F = 1.0 / 298.257_223_563  # WGS84 flattening
E2 = F * (2.0 - F)  # first eccentricity squared

FT = 0.3048  # metres per foot
NM = 1852.0  # metres per nautical mile


def geodetic_to_ecef(lat, lon, alt):
    """Geodetic latitude, longitude (rad) and ellipsoidal height (m) to ECEF (m)."""
    sl, cl = math.sin(lat), math.cos(lat)
    n = A / math.sqrt(1.0 - E2 * sl * sl)
    so, co = math.sin(lon), math.cos(lon)
    return ((n + alt) * cl * co, (n + alt) * cl * so, (n * (1.0 - E2) + alt) * sl)


def ecef_to_geodetic(p):
    """ECEF to (lat, lon, alt), the fixed-point iteration of geo.rs."""
    lon = math.atan2(p[1], p[0])
    rho = math.hypot(p[0], p[1])
    lat = math.atan2(p[2], rho * (1.0 - E2))
    alt = 0.0
    for _ in range(6):
        sl = math.sin(lat)
        n = A / math.sqrt(1.0 - E2 * sl * sl)
        if abs(math.cos(lat)) > 1e-9:
            alt = rho / math.cos(lat) - n
        else:
            alt = abs(p[2]) - n * (1.0 - E2)
        lat = math.atan2(p[2], rho * (1.0 - E2 * n / (n + alt)))
    return lat, lon, alt


def enu_basis(lat, lon):
    """East, north and up unit vectors at a geodetic position."""
    sl, cl = math.sin(lat), math.cos(lat)
    so, co = math.sin(lon), math.cos(lon)
    return ((-so, co, 0.0), (-sl * co, -sl * so, cl), (cl * co, cl * so, sl))


def from_range_az_el(basis, r, az, el):
    """ECEF offset of the point at range r, azimuth az (from north, clockwise), elevation el."""
    se, ce = math.sin(el), math.cos(el)
    sa, ca = math.sin(az), math.cos(az)
    e, n, u = r * ce * sa, r * ce * ca, r * se
    return tuple(e * basis[0][i] + n * basis[1][i] + u * basis[2][i] for i in range(3))


def range_az_el(site, basis, target):
    """Range, azimuth in [0, 2π) and elevation of an ECEF target seen from a site."""
    d = [target[i] - site[i] for i in range(3)]
    e = sum(d[i] * basis[0][i] for i in range(3))
    n = sum(d[i] * basis[1][i] for i in range(3))
    u = sum(d[i] * basis[2][i] for i in range(3))
    r = math.sqrt(e * e + n * n + u * u)
    return r, math.atan2(e, n) % (2.0 * math.pi), math.asin(u / r)


class Site:
    """A radar site: geodetic position (degrees, m), ECEF position and ENU basis."""

    def __init__(self, lat_deg, lon_deg, alt_m):
        self.lat = math.radians(lat_deg)
        self.lon = math.radians(lon_deg)
        self.alt = alt_m
        self.position = geodetic_to_ecef(self.lat, self.lon, alt_m)
        self.basis = enu_basis(self.lat, self.lon)

    def point(self, r, az, el):
        """ECEF point at range, azimuth, elevation from the site."""
        d = from_range_az_el(self.basis, r, az, el)
        return tuple(self.position[i] + d[i] for i in range(3))

    def azimuth_radius(self, az):
        """Radius of curvature of the ellipsoid in the direction `az` at the site (Euler)."""
        s2 = math.sin(self.lat) ** 2
        w = math.sqrt(1.0 - E2 * s2)
        m = A * (1.0 - E2) / w**3  # meridian
        n = A / w  # prime vertical
        return 1.0 / (math.cos(az) ** 2 / m + math.sin(az) ** 2 / n)


def spherical_elevation(r, h_site, h_target, earth_radius):
    """Elevation (rad) of a target at slant range r and height h_target seen from a site at
    height h_site, on a sphere of radius `earth_radius` (the law of cosines in the triangle
    Earth centre, site, target):

        sin(el) = ((Re + h_t)^2 - (Re + h_s)^2 - r^2) / (2 r (Re + h_s))

    With Re = 4/3 of the Earth's radius this is the radar engineers' 4/3-Earth model (the
    apparent elevation of a refracted ray); with the true radius it is the geometric one.
    Returns None when no elevation fits (|sin(el)| > 1: range shorter than the height
    difference, or a target below the horizon sphere).
    """
    rs = earth_radius + h_site
    rt = earth_radius + h_target
    s = (rt * rt - rs * rs - r * r) / (2.0 * r * rs)
    if not -1.0 <= s <= 1.0:
        return None
    return math.asin(s)


def elevation_for_height(site, r, az, h_target, earth_factor=1.0):
    """Elevation (rad) of a plot at slant range r (m), azimuth az (rad) and height h_target
    (m above the ellipsoid) seen from `site`, or None when the geometry admits none.

    earth_factor == 1 (default): the geometric elevation, such that the straight-line point
    trackcorr reconstructs, site + r * unit(az, el), lies exactly at height h_target on the
    WGS84 ellipsoid: the spherical formula (Euler radius in the plot's azimuth) as the
    first guess, then secant steps on the exact WGS84 height until it is within 1 mm.

    earth_factor != 1 (e.g. 4/3): the spherical formula alone with Re = earth_factor times the
    Euler radius; trackcorr then places the plot higher than h_target by about
    r^2 (1 - 1/k) / (2 Re) (785 m at 200 km for k = 4/3).
    """
    re = site.azimuth_radius(az)
    el = spherical_elevation(r, site.alt, h_target, earth_factor * re)
    if el is None or earth_factor != 1.0:
        return el

    def height_error(e):
        return ecef_to_geodetic(site.point(r, az, e))[2] - h_target

    e0, f0 = el, height_error(el)
    if abs(f0) < 1e-3:
        return e0
    e1 = e0 - f0 / (r * max(math.cos(e0), 1e-3))  # dh/del ≈ r cos(el)
    e1 = max(-math.pi / 2, min(math.pi / 2, e1))
    for _ in range(20):
        f1 = height_error(e1)
        if abs(f1) < 1e-3:
            return e1
        if f1 == f0:
            break
        e0, e1, f0 = e1, e1 - f1 * (e1 - e0) / (f1 - f0), f1
        e1 = max(-math.pi / 2, min(math.pi / 2, e1))
    return None
