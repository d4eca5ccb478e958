//! Prometheus 2.42 function table (`promql/parser/functions.go`): every
//! function with its argument types, variadic count and return type. The
//! native-histogram functions (`histogram_count`, `histogram_sum`,
//! `histogram_fraction`) are listed too, so the engine can refuse them by name.

use super::ast::ValueType;

/// A PromQL function signature.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Function {
    pub name: &'static str,
    pub arg_types: &'static [ValueType],
    /// 0: exactly `arg_types.len()` arguments; n > 0: up to n optional trailing
    /// arguments of the last type may be left out (`arg_types.len()-1 ..= arg_types.len()-1+n`
    /// arguments); -1: the last type repeats without limit.
    pub variadic: i32,
    pub return_type: ValueType,
}

const S: ValueType = ValueType::Scalar;
const V: ValueType = ValueType::Vector;
const M: ValueType = ValueType::Matrix;
const T: ValueType = ValueType::String;

const fn f(name: &'static str, arg_types: &'static [ValueType], variadic: i32, return_type: ValueType) -> Function {
    Function { name, arg_types, variadic, return_type }
}

/// All functions of Prometheus 2.42, sorted by name.
pub static FUNCTIONS: &[Function] = &[
    f("abs", &[V], 0, V),
    f("absent", &[V], 0, V),
    f("absent_over_time", &[M], 0, V),
    f("acos", &[V], 0, V),
    f("acosh", &[V], 0, V),
    f("asin", &[V], 0, V),
    f("asinh", &[V], 0, V),
    f("atan", &[V], 0, V),
    f("atanh", &[V], 0, V),
    f("avg_over_time", &[M], 0, V),
    f("ceil", &[V], 0, V),
    f("changes", &[M], 0, V),
    f("clamp", &[V, S, S], 0, V),
    f("clamp_max", &[V, S], 0, V),
    f("clamp_min", &[V, S], 0, V),
    f("cos", &[V], 0, V),
    f("cosh", &[V], 0, V),
    f("count_over_time", &[M], 0, V),
    f("day_of_month", &[V], 1, V),
    f("day_of_week", &[V], 1, V),
    f("day_of_year", &[V], 1, V),
    f("days_in_month", &[V], 1, V),
    f("deg", &[V], 0, V),
    f("delta", &[M], 0, V),
    f("deriv", &[M], 0, V),
    f("exp", &[V], 0, V),
    f("floor", &[V], 0, V),
    f("histogram_count", &[V], 0, V),
    f("histogram_fraction", &[S, S, V], 0, V),
    f("histogram_quantile", &[S, V], 0, V),
    f("histogram_sum", &[V], 0, V),
    f("holt_winters", &[M, S, S], 0, V),
    f("hour", &[V], 1, V),
    f("idelta", &[M], 0, V),
    f("increase", &[M], 0, V),
    f("irate", &[M], 0, V),
    f("label_join", &[V, T, T, T], -1, V),
    f("label_replace", &[V, T, T, T, T], 0, V),
    f("last_over_time", &[M], 0, V),
    f("ln", &[V], 0, V),
    f("log10", &[V], 0, V),
    f("log2", &[V], 0, V),
    f("max_over_time", &[M], 0, V),
    f("min_over_time", &[M], 0, V),
    f("minute", &[V], 1, V),
    f("month", &[V], 1, V),
    f("pi", &[], 0, S),
    f("predict_linear", &[M, S], 0, V),
    f("present_over_time", &[M], 0, V),
    f("quantile_over_time", &[S, M], 0, V),
    f("rad", &[V], 0, V),
    f("rate", &[M], 0, V),
    f("resets", &[M], 0, V),
    f("round", &[V, S], 1, V),
    f("scalar", &[V], 0, S),
    f("sgn", &[V], 0, V),
    f("sin", &[V], 0, V),
    f("sinh", &[V], 0, V),
    f("sort", &[V], 0, V),
    f("sort_desc", &[V], 0, V),
    f("sqrt", &[V], 0, V),
    f("stddev_over_time", &[M], 0, V),
    f("stdvar_over_time", &[M], 0, V),
    f("sum_over_time", &[M], 0, V),
    f("tan", &[V], 0, V),
    f("tanh", &[V], 0, V),
    f("time", &[], 0, S),
    f("timestamp", &[V], 0, V),
    f("vector", &[S], 0, V),
    f("year", &[V], 1, V),
];

/// Looks a function up by its exact (case-sensitive) name.
pub fn get_function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.binary_search_by(|f| f.name.cmp(name)).ok().map(|i| &FUNCTIONS[i])
}

/// Functions that only make sense on native histograms (experimental in 2.42).
pub fn is_native_histogram_function(name: &str) -> bool {
    matches!(name, "histogram_count" | "histogram_sum" | "histogram_fraction")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_complete() {
        assert_eq!(FUNCTIONS.len(), 70);
        assert!(FUNCTIONS.windows(2).all(|w| w[0].name < w[1].name));
        for f in FUNCTIONS {
            assert_eq!(get_function(f.name).unwrap().name, f.name);
        }
    }

    #[test]
    fn lookups() {
        let rate = get_function("rate").unwrap();
        assert_eq!((rate.arg_types, rate.variadic, rate.return_type), (&[M][..], 0, V));
        let lj = get_function("label_join").unwrap();
        assert_eq!((lj.arg_types.len(), lj.variadic), (4, -1));
        let round = get_function("round").unwrap();
        assert_eq!((round.arg_types, round.variadic), (&[V, S][..], 1));
        assert_eq!(get_function("time").unwrap().return_type, S);
        assert_eq!(get_function("histogram_fraction").unwrap().arg_types, &[S, S, V][..]);
        assert!(get_function("RATE").is_none());
        assert!(get_function("histogram_stddev").is_none());
        assert!(is_native_histogram_function("histogram_sum"));
    }
}
