//! Trend charts drawn as inline SVG: one per repeated lab or vital sign code (and unit), blood
//! pressure systolic and diastolic together, with date and value axes, the unit, and the
//! reference range as a band. Every value is a `<circle>` with a `<title>` (date and value as
//! stored), so a reader can hover or a test can count them.

use super::dates;
use super::fields::Range;
use super::html;
use std::collections::BTreeMap;
use std::fmt::Write;

/// LOINC codes drawn in the blood pressure chart.
pub const BP_PANEL: &str = "85354-9";
pub const SYSTOLIC: &str = "8480-6";
pub const DIASTOLIC: &str = "8462-4";

const W: f64 = 360.0;
const H: f64 = 180.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 26.0;

/// Out of the reference range, high or low.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    High,
    Low,
    Abnormal,
}

impl Flag {
    pub fn label(self) -> &'static str {
        match self {
            Flag::High => "H",
            Flag::Low => "L",
            Flag::Abnormal => "A",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Flag::High => "hi",
            Flag::Low => "lo",
            Flag::Abnormal => "ab",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Point {
    pub day: f64,
    pub value: f64,
    /// What the point's tooltip says: date and value as stored.
    pub label: String,
    pub flag: Option<Flag>,
}

#[derive(Debug, Default)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

#[derive(Debug, Default)]
pub struct Chart {
    pub key: String,
    pub title: String,
    pub unit: String,
    pub series: Vec<Series>,
    /// The band: the reference range of the newest value that had one.
    band: Option<(f64, Option<f64>, Option<f64>)>,
}

impl Chart {
    pub fn points(&self) -> usize {
        self.series.iter().map(|s| s.points.len()).sum()
    }
}

/// The charts of one section, by key.
#[derive(Debug, Default)]
pub struct Charts {
    by_key: BTreeMap<String, Chart>,
}

impl Charts {
    /// Adds a value to the chart `key` (created with `title` and `unit`), in series `series`.
    pub fn add(
        &mut self,
        key: &str,
        title: &str,
        unit: &str,
        series: &str,
        point: Point,
        range: Option<&Range>,
    ) {
        let chart = self.by_key.entry(key.to_owned()).or_insert_with(|| Chart {
            key: key.to_owned(),
            title: title.to_owned(),
            unit: unit.to_owned(),
            ..Chart::default()
        });
        if let Some(r) = range {
            let low = r.low.as_ref().and_then(|q| q.number());
            let high = r.high.as_ref().and_then(|q| q.number());
            let newer = chart.band.is_none_or(|(day, _, _)| point.day >= day);
            if (low.is_some() || high.is_some()) && newer {
                chart.band = Some((point.day, low, high));
            }
        }
        match chart.series.iter_mut().find(|s| s.name == series) {
            Some(s) => s.points.push(point),
            None => chart.series.push(Series {
                name: series.to_owned(),
                points: vec![point],
            }),
        }
    }

    /// The charts worth drawing (a code measured at least twice), by title; series and points
    /// in date order (systolic before diastolic).
    pub fn into_charts(self) -> Vec<Chart> {
        let mut charts: Vec<Chart> = self
            .by_key
            .into_values()
            .filter(|c| c.points() >= 2)
            .collect();
        for c in &mut charts {
            c.series.sort_by(|a, b| a.name.cmp(&b.name).reverse());
            for s in &mut c.series {
                s.points.sort_by(|a, b| a.day.total_cmp(&b.day));
            }
        }
        charts.sort_by(|a, b| a.title.cmp(&b.title).then(a.key.cmp(&b.key)));
        charts
    }
}

/// Appends one chart as `<figure>` with its SVG.
pub fn figure(out: &mut String, chart: &Chart, n: usize) {
    let Some(plot) = Plot::of(chart) else {
        return;
    };
    let unit = html::text(&chart.unit);
    head(out, chart, n, &plot, &unit);
    band(out, chart, &plot);
    grid(out, &plot);
    lines(out, chart, &plot);
    legend(out, chart, &unit);
    out.push_str("</svg></figure>");
}

/// Where a chart's points go: the days and values it spans, mapped onto the drawing.
struct Plot {
    /// The first and last day measured.
    first: f64,
    last: f64,
    /// The days the x axis spans (a month around a single day).
    d0: f64,
    d1: f64,
    /// The values the y axis spans: its first and last tick.
    v0: f64,
    v1: f64,
    ticks: Vec<f64>,
    step: f64,
}

impl Plot {
    /// The span of `chart`'s points and reference range; `None` without points.
    fn of(chart: &Chart) -> Option<Plot> {
        let all = || chart.series.iter().flat_map(|s| s.points.iter());
        let (first, last) = match (
            all().map(|p| p.day).reduce(f64::min),
            all().map(|p| p.day).reduce(f64::max),
        ) {
            (Some(a), Some(b)) => (a, b),
            _ => return None,
        };
        let (d0, d1) = if last - first < 1.0 {
            (first - 15.0, last + 15.0)
        } else {
            (first, last)
        };
        let mut v0 = all().map(|p| p.value).fold(f64::INFINITY, f64::min);
        let mut v1 = all().map(|p| p.value).fold(f64::NEG_INFINITY, f64::max);
        if let Some((_, low, high)) = chart.band {
            v0 = low.map_or(v0, |l| v0.min(l));
            v1 = high.map_or(v1, |h| v1.max(h));
        }
        let (ticks, step) = value_ticks(v0, v1);
        let (v0, v1) = (ticks[0], ticks[ticks.len() - 1]);
        Some(Plot {
            first,
            last,
            d0,
            d1,
            v0,
            v1,
            ticks,
            step,
        })
    }

    fn x(&self, day: f64) -> f64 {
        LEFT + (day - self.d0) / (self.d1 - self.d0) * (W - LEFT - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        H - BOTTOM - (v - self.v0) / (self.v1 - self.v0) * (H - TOP - BOTTOM)
    }
}

/// `<figure>` with its caption, and the opening of the SVG with its accessible title.
fn head(out: &mut String, chart: &Chart, n: usize, plot: &Plot, unit: &str) {
    let title = html::text(&chart.title);
    let _ = write!(
        out,
        "<figure class=\"chart\" data-key=\"{}\" data-points=\"{}\"><figcaption>{title}{}</figcaption>\
         <svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"chart{n}\"><title id=\"chart{n}\">{title}, {} values from {} to {}</title>",
        html::attr(&chart.key),
        chart.points(),
        if unit.is_empty() { String::new() } else { format!(" <span class=\"unit\">({unit})</span>") },
        chart.points(),
        day_label(plot.first),
        day_label(plot.last),
    );
}

/// The reference range, shaded.
fn band(out: &mut String, chart: &Chart, plot: &Plot) {
    let Some((_, low, high)) = chart.band else {
        return;
    };
    let (v0, v1) = (plot.v0, plot.v1);
    let (top, bottom) = (
        plot.y(high.unwrap_or(v1).min(v1)),
        plot.y(low.unwrap_or(v0).max(v0)),
    );
    if bottom > top {
        let _ = write!(
            out,
            "<rect class=\"band\" x=\"{LEFT}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>reference range</title></rect>",
            W - LEFT - RIGHT,
            bottom - top
        );
    }
}

/// The value and date ticks with their labels, and the axes.
fn grid(out: &mut String, plot: &Plot) {
    let decimals = decimals_for(plot.step);
    out.push_str("<g class=\"grid\">");
    for v in &plot.ticks {
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\"/><text class=\"ytick\" x=\"{}\" y=\"{:.1}\">{v:.decimals$}</text>",
            W - RIGHT,
            LEFT - 4.0,
            plot.y(*v) + 3.0,
            yy = plot.y(*v),
        );
    }
    for (day, label) in date_ticks(plot.d0, plot.d1) {
        let _ = write!(
            out,
            "<line class=\"xtick\" x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"{}\" y2=\"{}\"/><text class=\"xlabel\" x=\"{xx:.1}\" y=\"{}\">{label}</text>",
            H - BOTTOM,
            H - BOTTOM + 4.0,
            H - BOTTOM + 15.0,
            xx = plot.x(day),
        );
    }
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{}\"/><line class=\"axis\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/></g>",
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM
    );
}

/// Each series as a line through its points, each point with its label and flag.
fn lines(out: &mut String, chart: &Chart, plot: &Plot) {
    for (i, s) in chart.series.iter().enumerate() {
        let _ = write!(out, "<polyline class=\"line s{i}\" points=\"");
        for p in &s.points {
            let _ = write!(out, "{:.1},{:.1} ", plot.x(p.day), plot.y(p.value));
        }
        let _ = write!(
            out,
            "\"/><g class=\"pts s{i}\" data-series=\"{}\">",
            html::attr(&s.name)
        );
        for p in &s.points {
            let class = p.flag.map_or("", Flag::class);
            let _ = write!(
                out,
                "<circle class=\"{class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.4\"><title>{}</title></circle>",
                plot.x(p.day),
                plot.y(p.value),
                html::text(&p.label)
            );
        }
        out.push_str("</g>");
    }
}

/// The series' names when there are several, else the unit over the y axis.
fn legend(out: &mut String, chart: &Chart, unit: &str) {
    if chart.series.len() > 1 {
        for (i, s) in chart.series.iter().enumerate() {
            let lx = LEFT + 8.0 + 90.0 * i as f64;
            let _ = write!(
                out,
                "<g class=\"legend s{i}\"><line x1=\"{lx}\" x2=\"{}\" y1=\"8\" y2=\"8\"/><text x=\"{}\" y=\"11\">{}</text></g>",
                lx + 14.0,
                lx + 18.0,
                html::text(&s.name)
            );
        }
    } else if !unit.is_empty() {
        let _ = write!(
            out,
            "<text class=\"ylabel\" x=\"{}\" y=\"10\">{unit}</text>",
            LEFT + 4.0
        );
    }
}

/// Round tick values covering `[lo, hi]` (about five) and their step.
fn value_ticks(lo: f64, hi: f64) -> (Vec<f64>, f64) {
    let (lo, hi) = if hi - lo < f64::EPSILON * lo.abs().max(1.0) {
        (lo - lo.abs().max(1.0) * 0.1, hi + hi.abs().max(1.0) * 0.1)
    } else {
        (lo, hi)
    };
    let raw = (hi - lo) / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let start = (lo / step).floor() * step;
    let mut ticks = Vec::new();
    let mut v = start;
    while v < hi + step * 0.999 && ticks.len() < 12 {
        ticks.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    if ticks.len() < 2 {
        ticks.push(start + step);
    }
    (ticks, step)
}

fn decimals_for(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else {
        ((-step.log10()).ceil() as usize
            + usize::from(step * 10f64.powf((-step.log10()).ceil()) % 1.0 != 0.0))
        .min(4)
    }
}

/// Tick positions and labels for the date axis: years, months or days, about five.
fn date_ticks(d0: f64, d1: f64) -> Vec<(f64, String)> {
    let span = d1 - d0;
    let (y0, m0, _) = dates::civil(d0);
    let mut ticks = Vec::new();
    if span > 365.0 * 2.5 {
        let step = ((span / 365.25 / 5.0).ceil() as i64).max(1);
        let mut year = y0 + 1;
        while ticks.len() < 12 {
            let day = dates::days_from_civil(year, 1, 1) as f64;
            if day > d1 {
                break;
            }
            if year % step == 0 {
                ticks.push((day, year.to_string()));
            }
            year += 1;
        }
    } else if span > 60.0 {
        let step = [1i64, 2, 3, 6, 12]
            .into_iter()
            .find(|s| span / 30.4 / *s as f64 <= 6.0)
            .unwrap_or(12);
        let mut months = y0 * 12 + i64::from(m0); // the month after d0's, 0-based
        while ticks.len() < 12 {
            let (year, month) = (months.div_euclid(12), months.rem_euclid(12) + 1);
            let day = dates::days_from_civil(year, month, 1) as f64;
            if day > d1 {
                break;
            }
            if (month - 1) % step == 0 {
                ticks.push((day, format!("{year}-{month:02}")));
            }
            months += 1;
        }
    } else {
        let step = (span / 5.0).ceil().max(1.0);
        let mut day = d0.ceil();
        while day <= d1 && ticks.len() < 12 {
            ticks.push((day, day_label(day)));
            day += step;
        }
    }
    ticks
}

fn day_label(day: f64) -> String {
    let (y, m, d) = dates::civil(day);
    format!("{y}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::fields::Quantity;

    fn point(day: f64, value: f64) -> Point {
        Point {
            day,
            value,
            label: format!("{value}"),
            flag: None,
        }
    }

    #[test]
    fn ticks_are_round_and_cover_the_values() {
        let (t, step) = value_ticks(3.4, 5.3);
        assert_eq!(step, 0.5);
        assert!(t[0] <= 3.4 && *t.last().unwrap() >= 5.3, "{t:?}");
        let (t, _) = value_ticks(120.0, 120.0);
        assert!(
            t.len() >= 2 && t[0] < 120.0 && *t.last().unwrap() > 120.0,
            "{t:?}"
        );
        assert_eq!(decimals_for(0.5), 1);
        assert_eq!(decimals_for(0.25), 2);
        assert_eq!(decimals_for(20.0), 0);
        let d0 = dates::day_number("2017-03-01").unwrap();
        let years = date_ticks(d0, dates::day_number("2024-06-01").unwrap());
        assert!(
            years.iter().all(|(_, l)| l.len() == 4) && years.len() >= 3,
            "{years:?}"
        );
        let months = date_ticks(d0, dates::day_number("2017-09-01").unwrap());
        assert!(months.iter().all(|(_, l)| l.len() == 7), "{months:?}");
        let days = date_ticks(d0, d0 + 10.0);
        assert!(
            days.len() >= 3 && days[0].1.starts_with("2017-03-0"),
            "{days:?}"
        );
    }

    #[test]
    fn one_circle_per_value_and_the_band() {
        let mut charts = Charts::default();
        let range = Range {
            low: Some(Quantity {
                value: "70".into(),
                comparator: None,
                unit: None,
            }),
            high: Some(Quantity {
                value: "99".into(),
                comparator: None,
                unit: None,
            }),
            text: None,
        };
        charts.add(
            "g",
            "Glucose <b>",
            "mg/dL",
            "",
            point(10.0, 80.0),
            Some(&range),
        );
        charts.add("g", "Glucose <b>", "mg/dL", "", point(5.0, 120.0), None);
        charts.add("once", "Once", "", "", point(5.0, 1.0), None);
        charts.add(
            "bp",
            "Blood pressure",
            "mm[Hg]",
            "Systolic",
            point(1.0, 120.0),
            None,
        );
        charts.add(
            "bp",
            "Blood pressure",
            "mm[Hg]",
            "Diastolic",
            point(1.0, 80.0),
            None,
        );
        let all = charts.into_charts();
        assert_eq!(all.len(), 2, "a single value makes no chart");
        assert_eq!(all[0].series[0].name, "Systolic");
        let mut out = String::new();
        figure(&mut out, &all[1], 1);
        assert_eq!(out.matches("<circle").count(), 2);
        assert!(out.contains("data-points=\"2\"") && out.contains("class=\"band\""));
        assert!(out.contains("Glucose &lt;b&gt;") && !out.contains("<b>"));
        assert!(!out.contains("NaN") && !out.contains("inf"), "{out}");
    }
}
