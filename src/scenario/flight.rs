//! Ballistic missile flights: a boost phase with thrust along a pitch programme, then free
//! flight under gravity with J2 in the rotating Earth frame, until impact.

use crate::geo::{self, V3};
use crate::linalg::Vec6;

/// Integration step of the truth (s): short, so that the thrust cut-off is resolved.
pub const STEP: f64 = 0.1;

/// A missile's launch and motor.
#[derive(Clone, Debug, PartialEq)]
pub struct Missile {
    pub id: u32,
    /// Launch site, geodetic (rad, rad, m).
    pub lat: f64,
    pub lon: f64,
    /// Launch time (s), a whole second.
    pub launch_time: f64,
    /// Azimuth of the flight (rad from north).
    pub azimuth: f64,
    /// Thrust acceleration at lift-off (m/s²); it grows as propellant burns.
    pub thrust0: f64,
    /// Burn time (s).
    pub burn_time: f64,
    /// Share of the lift-off mass burnt at cut-off.
    pub propellant_fraction: f64,
    /// Vertical rise before the pitch-over (s).
    pub vertical_time: f64,
    /// Flight-path angle from vertical reached at burn-out (rad).
    pub final_pitch: f64,
}

/// A flown trajectory: states every [`STEP`] seconds from launch to impact.
#[derive(Clone, Debug)]
pub struct Flight {
    pub launch_time: f64,
    pub impact_time: f64,
    pub burnout_time: f64,
    states: Vec<Vec6>,
}

impl Missile {
    /// Thrust acceleration vector at time `t` after launch (zero after burn-out).
    fn thrust(&self, t: f64, up: &V3, downrange: &V3) -> V3 {
        if t >= self.burn_time {
            return [0.0; 3];
        }
        let a = self.thrust0 / (1.0 - self.propellant_fraction * t / self.burn_time);
        let pitch = if t < self.vertical_time {
            0.0
        } else {
            self.final_pitch * (t - self.vertical_time) / (self.burn_time - self.vertical_time)
        };
        let dir = geo::add(
            &geo::scale(up, pitch.cos()),
            &geo::scale(downrange, pitch.sin()),
        );
        geo::scale(&dir, a)
    }

    /// Flies the missile from launch to impact.
    pub fn fly(&self) -> Flight {
        let p0 = geo::geodetic_to_ecef(self.lat, self.lon, 0.0);
        let [east, north, up] = geo::enu_basis(self.lat, self.lon);
        let downrange = geo::add(
            &geo::scale(&north, self.azimuth.cos()),
            &geo::scale(&east, self.azimuth.sin()),
        );
        let deriv = |t: f64, s: &Vec6| -> Vec6 {
            let p = [s[0], s[1], s[2]];
            let v = [s[3], s[4], s[5]];
            let g = geo::ballistic_acceleration(&p, &v);
            let f = self.thrust(t, &up, &downrange);
            [s[3], s[4], s[5], g[0] + f[0], g[1] + f[1], g[2] + f[2]]
        };
        let mut s: Vec6 = [p0[0], p0[1], p0[2], 0.0, 0.0, 0.0];
        let mut states = vec![s];
        let mut t = 0.0;
        let h = STEP;
        // A flight of more than an hour would be an orbit: stop there.
        while t < 3600.0 {
            let k1 = deriv(t, &s);
            let k2 = deriv(t + h / 2.0, &axpy(&s, h / 2.0, &k1));
            let k3 = deriv(t + h / 2.0, &axpy(&s, h / 2.0, &k2));
            let k4 = deriv(t + h, &axpy(&s, h, &k3));
            let next: Vec6 = std::array::from_fn(|i| {
                s[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
            });
            t += h;
            let alt = geo::altitude(&[next[0], next[1], next[2]]);
            if alt < 0.0 && t > self.burn_time {
                // Impact between the last two samples: interpolate the crossing.
                let alt0 = geo::altitude(&[s[0], s[1], s[2]]);
                let frac = alt0 / (alt0 - alt);
                let hit: Vec6 = std::array::from_fn(|i| s[i] + frac * (next[i] - s[i]));
                states.push(hit);
                let impact = self.launch_time + t - h + frac * h;
                return Flight {
                    launch_time: self.launch_time,
                    impact_time: impact,
                    burnout_time: self.launch_time + self.burn_time,
                    states,
                };
            }
            s = next;
            states.push(s);
        }
        Flight {
            launch_time: self.launch_time,
            impact_time: self.launch_time + t,
            burnout_time: self.launch_time + self.burn_time,
            states,
        }
    }
}

fn axpy(s: &Vec6, h: f64, k: &Vec6) -> Vec6 {
    std::array::from_fn(|i| s[i] + h * k[i])
}

impl Flight {
    /// True state at absolute time `t`, if the missile is in flight then. Cubic Hermite
    /// interpolation between the integration samples.
    pub fn state(&self, t: f64) -> Option<Vec6> {
        if t < self.launch_time || t > self.impact_time {
            return None;
        }
        let u = (t - self.launch_time) / STEP;
        let i = (u.floor() as usize).min(self.states.len().saturating_sub(2));
        let a = &self.states[i];
        let b = &self.states[i + 1];
        // The last interval is shorter (it ends at impact).
        let t0 = self.launch_time + i as f64 * STEP;
        let h = if i + 2 == self.states.len() {
            (self.impact_time - t0).max(1e-9)
        } else {
            STEP
        };
        let s = ((t - t0) / h).clamp(0.0, 1.0);
        let (h00, h10, h01, h11) = (
            2.0 * s * s * s - 3.0 * s * s + 1.0,
            s * s * s - 2.0 * s * s + s,
            -2.0 * s * s * s + 3.0 * s * s,
            s * s * s - s * s,
        );
        let mut out = [0.0; 6];
        for k in 0..3 {
            out[k] = h00 * a[k] + h10 * h * a[k + 3] + h01 * b[k] + h11 * h * b[k + 3];
            // Velocity: linear between samples (thrust makes acceleration piecewise smooth).
            out[k + 3] = a[k + 3] + s * (b[k + 3] - a[k + 3]);
        }
        Some(out)
    }

    /// Launch point (ECEF).
    pub fn launch_point(&self) -> V3 {
        let s = self.states[0];
        [s[0], s[1], s[2]]
    }

    /// Impact point (ECEF).
    pub fn impact_point(&self) -> V3 {
        let s = self.states[self.states.len() - 1];
        [s[0], s[1], s[2]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn test_missile() -> Missile {
        Missile {
            id: 0,
            lat: 0.6,
            lon: 0.8,
            launch_time: 10.0,
            azimuth: 4.4,
            thrust0: 20.0,
            burn_time: 90.0,
            propellant_fraction: 0.7,
            vertical_time: 8.0,
            final_pitch: 0.8,
        }
    }

    #[test]
    fn flight_is_a_medium_range_ballistic_trajectory() {
        let m = test_missile();
        let f = m.fly();
        let duration = f.impact_time - f.launch_time;
        assert!((300.0..1200.0).contains(&duration), "{duration}");
        let range = geo::ground_distance(&f.launch_point(), &f.impact_point());
        assert!((500e3..2500e3).contains(&range), "{range}");
        let apogee = (0..(duration as usize))
            .filter_map(|k| f.state(f.launch_time + k as f64))
            .map(|s| geo::altitude(&[s[0], s[1], s[2]]))
            .fold(0.0, f64::max);
        assert!((100e3..800e3).contains(&apogee), "{apogee}");
        // Impact at altitude zero.
        assert!(geo::altitude(&f.impact_point()).abs() < 1.0);
        assert!(f.state(f.launch_time - 1.0).is_none());
        assert!(f.state(f.impact_time + 1.0).is_none());
    }

    #[test]
    fn interpolation_matches_integration_after_burnout() {
        let f = test_missile().fly();
        let t = f.burnout_time + 20.0;
        let a = f.state(t).unwrap();
        // Free flight from `a` for 30 s must land on the interpolated truth.
        let b = crate::propagate::ballistic_state(&a, 30.0, 0.5);
        let c = f.state(t + 30.0).unwrap();
        for k in 0..3 {
            assert!((b[k] - c[k]).abs() < 0.5, "{k}: {} vs {}", b[k], c[k]);
        }
    }
}
