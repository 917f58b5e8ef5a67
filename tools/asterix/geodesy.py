"""WGS84 geodesy as trackcorr does it (src/geo.rs), plus the elevation of a plot whose
height is known, the turn of an east/north/up covariance into ECEF, and the stereographic
plane of an SDPS (CAT 062 I062/100).

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


def enu_to_ecef_covariance(basis, cov_enu):
    """A 6×6 covariance over (east, north, up, v_east, v_north, v_up) at a point whose ENU
    basis is `basis`, turned into ECEF (x, y, z, vx, vy, vz): R P Rᵀ with R the rotation
    from ENU to ECEF on both the position and the velocity block. Returned symmetric."""
    rot = [[basis[j][i] for j in range(3)] for i in range(3)]  # columns e, n, u
    big = [[0.0] * 6 for _ in range(6)]
    for b in (0, 3):
        for i in range(3):
            for j in range(3):
                big[b + i][b + j] = rot[i][j]
    tmp = [[sum(big[i][k] * cov_enu[k][j] for k in range(6)) for j in range(6)]
           for i in range(6)]
    out = [[sum(tmp[i][k] * big[j][k] for k in range(6)) for j in range(6)] for i in range(6)]
    return [[0.5 * (out[i][j] + out[j][i]) for j in range(6)] for i in range(6)]


class Stereographic:
    """The oblique stereographic projection of the ellipsoid (EPSG method 9809, "double
    stereographic": Gauss conformal sphere, then a stereographic plane tangent at the origin),
    scale factor 1 at the origin and no false easting or northing: x grows east, y north at
    the origin. Angles in radians, plane coordinates in metres. The ellipsoid is WGS84 unless
    `a` and `e2` are given (the EPSG guidance note's example uses Bessel 1841)."""

    def __init__(self, lat0, lon0, a=A, e2=E2):
        self.a, self.e2 = a, e2
        self.e = math.sqrt(e2)
        self.lon0 = lon0
        s0 = math.sin(lat0)
        w = 1.0 - e2 * s0 * s0
        rho0 = a * (1.0 - e2) / w**1.5  # meridian radius of curvature
        nu0 = a / math.sqrt(w)  # prime vertical radius of curvature
        self.radius = math.sqrt(rho0 * nu0)  # of the conformal sphere
        self.n = math.sqrt(1.0 + e2 * math.cos(lat0) ** 4 / (1.0 - e2))
        s1 = (1.0 + s0) / (1.0 - s0)
        s2 = (1.0 - self.e * s0) / (1.0 + self.e * s0)
        w1 = (s1 * s2**self.e) ** self.n
        sin_chi = (w1 - 1.0) / (w1 + 1.0)
        self.c = (self.n + s0) * (1.0 - sin_chi) / ((self.n - s0) * (1.0 + sin_chi))
        w2 = self.c * w1
        self.chi0 = math.asin((w2 - 1.0) / (w2 + 1.0))  # conformal latitude of the origin

    def forward(self, lat, lon):
        """Geodetic latitude, longitude -> plane (x, y)."""
        sl = math.sin(lat)
        w = self.c * ((1.0 + sl) / (1.0 - sl)
                      * ((1.0 - self.e * sl) / (1.0 + self.e * sl)) ** self.e) ** self.n
        chi = math.asin((w - 1.0) / (w + 1.0))
        dl = self.n * ((lon - self.lon0 + math.pi) % (2.0 * math.pi) - math.pi)
        sc, cc = math.sin(chi), math.cos(chi)
        s0, c0 = math.sin(self.chi0), math.cos(self.chi0)
        b = 1.0 + sc * s0 + cc * c0 * math.cos(dl)
        return (2.0 * self.radius * cc * math.sin(dl) / b,
                2.0 * self.radius * (sc * c0 - cc * s0 * math.cos(dl)) / b)

    def inverse(self, x, y):
        """Plane (x, y) -> geodetic latitude, longitude in (-π, π]."""
        s0, c0 = math.sin(self.chi0), math.cos(self.chi0)
        rho = math.hypot(x, y)
        if rho == 0.0:
            chi, dl = self.chi0, 0.0
        else:  # the inverse of the stereographic projection of a sphere
            ang = 2.0 * math.atan(rho / (2.0 * self.radius))
            sa, ca = math.sin(ang), math.cos(ang)
            chi = math.asin(ca * s0 + y * sa * c0 / rho)
            dl = math.atan2(x * sa, rho * c0 * ca - y * s0 * sa)
        lon = (self.lon0 + dl / self.n + math.pi) % (2.0 * math.pi) - math.pi
        # Conformal to geodetic latitude: EPSG's fixed-point iteration on the isometric
        # latitude (converges to 1e-14 rad in a few steps).
        sc = math.sin(chi)
        psi = 0.5 * math.log((1.0 + sc) / (self.c * (1.0 - sc))) / self.n
        lat = 2.0 * math.atan(math.exp(psi)) - math.pi / 2.0
        for _ in range(30):
            sl = math.sin(lat)
            psi_i = math.log(math.tan(lat / 2.0 + math.pi / 4.0)
                             * ((1.0 - self.e * sl) / (1.0 + self.e * sl)) ** (self.e / 2.0))
            step = (psi_i - psi) * math.cos(lat) * (1.0 - self.e2 * sl * sl) / (1.0 - self.e2)
            lat -= step
            if abs(step) < 1e-14:
                break
        return lat, lon

    def axes(self, lat, lon):
        """Scale k and convergence γ at a point, such that a ground vector with east and north
        components (e, n) is, in the plane, k · (e cos γ + n sin γ, −e sin γ + n cos γ): γ
        is the angle from the plane's y axis clockwise to true north. From the image of a
        short step north (the projection is conformal: the same k and rotation in every
        direction)."""
        h = 1e-7  # rad of latitude, about 0.6 m
        x0, y0 = self.forward(lat - h, lon)
        x1, y1 = self.forward(lat + h, lon)
        sl = math.sin(lat)
        m = self.a * (1.0 - self.e2) / (1.0 - self.e2 * sl * sl) ** 1.5  # metres per rad north
        dx, dy = x1 - x0, y1 - y0
        return math.hypot(dx, dy) / (2.0 * h * m), math.atan2(dx, dy)
