//! A schedule in words, for people ("every day at 02:30", "every 15 minutes"),
//! as the dashboard shows it beside the expression. The common shapes are
//! worded plainly; anything else is worded field by field. Pure.

use super::Schedule;

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

impl Schedule {
    /// The schedule in English words. `@every` is worded by its period; a cron
    /// expression (or nickname) by its fields, times on the zone's clock.
    pub fn in_words(&self) -> String {
        if let Some(period) = self.every_period() {
            return format!("every {}", humantime::format_duration(period));
        }
        match self.cron_fields() {
            Some(fields) => cron_in_words(&fields),
            None => self.expression().to_owned(),
        }
    }
}

/// Five cron fields in words.
fn cron_in_words(fields: &[String; 5]) -> String {
    let [minute, hour, dom, month, dow] = fields.each_ref().map(String::as_str);
    let time = match (number(minute), number(hour)) {
        (Some(m), Some(h)) => format!("at {h:02}:{m:02}"),
        (Some(0), None) if hour == "*" => "every hour".to_owned(),
        (Some(m), None) if hour == "*" => format!("every hour at :{m:02}"),
        (None, None) if minute == "*" && hour == "*" => "every minute".to_owned(),
        _ => match minute.strip_prefix("*/").and_then(number) {
            Some(step) if hour == "*" => format!("every {step} minutes"),
            _ => format!("at minute {minute} of hour {hour}"),
        },
    };
    let mut days = Vec::new();
    if dom != "*" {
        days.push(format!("on day {dom} of the month"));
    }
    if dow != "*" {
        let named = number(dow)
            .and_then(|d| DAYS.get(d as usize % 7))
            .map(|d| format!("on {d}s"));
        days.push(named.unwrap_or_else(|| format!("on weekdays {dow}")));
    }
    if month != "*" {
        days.push(format!("in month {month}"));
    }
    let every_day = days.is_empty() && number(hour).is_some();
    let mut words = if every_day {
        format!("every day {time}")
    } else {
        time
    };
    for part in days {
        words.push(' ');
        words.push_str(&part);
    }
    words
}

/// A field that is a single whole number.
fn number(field: &str) -> Option<u32> {
    field.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_schedules_read_plainly() {
        let cases = [
            ("30 2 * * *", "every day at 02:30"),
            ("@daily", "every day at 00:00"),
            ("@hourly", "every hour"),
            ("15 * * * *", "every hour at :15"),
            ("* * * * *", "every minute"),
            ("*/15 * * * *", "every 15 minutes"),
            ("0 9 * * 1", "at 09:00 on Mondays"),
            ("0 9 * * 1-5", "at 09:00 on weekdays 1-5"),
            ("0 3 1 * *", "at 03:00 on day 1 of the month"),
            ("0 0 1 1 *", "at 00:00 on day 1 of the month in month 1"),
            ("5 1-3 * * *", "at minute 5 of hour 1-3"),
            ("@every 90s", "every 1m 30s"),
        ];
        for (expr, want) in cases {
            let schedule = Schedule::parse(expr, chrono_tz::UTC).expect(expr);
            assert_eq!(schedule.in_words(), want, "{expr}");
        }
    }
}
