//! GOSPA, computed as Stone Soup's `GOSPAMetric` does.
