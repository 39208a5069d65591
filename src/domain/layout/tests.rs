use super::*;

fn limits() -> LayoutLimits {
    LayoutLimits::default()
}

fn stadium() -> Layout {
    let sections = [
        SectionSpec {
            code: "112",
            name: "Block 112",
            rows: vec![("A", 10), ("B", 12)],
        },
        SectionSpec {
            code: "floor",
            name: "",
            rows: vec![("1", 100)],
        },
        SectionSpec {
            code: "N1",
            name: "North Stand, upper; ü",
            rows: vec![("12", 5)],
        },
    ];
    Layout::parse_sections("sections", sections.into_iter(), &limits()).expect("layout")
}

fn label(raw: &str) -> SeatLabel {
    SeatLabel::parse("seat", raw).expect("label")
}

#[test]
fn seats_are_numbered_in_layout_order_and_found_by_label() {
    let layout = stadium();
    assert_eq!(layout.seat_count(), 127);
    assert_eq!(layout.find(&label("112-A-1")), Some(0));
    assert_eq!(layout.find(&label("112-B-12")), Some(21));
    assert_eq!(layout.find(&label("FLOOR-1-1")), Some(22));
    assert_eq!(layout.find(&label("N1-12-5")), Some(126));
    assert_eq!(layout.find(&label("N1-12-6")), None);
    assert_eq!(layout.find(&label("112-C-1")), None);
    assert_eq!(
        layout.find(&label("A1")),
        None,
        "no plain labels in a sectioned event"
    );
    for index in 0..layout.seat_count() {
        let label = layout.label(index).expect("label");
        assert_eq!(layout.find(&label), Some(index), "{label}");
    }
    assert_eq!(layout.label(127), None);
    assert_eq!(layout.labels().count(), 127);
    assert_eq!(
        layout.sections()[1].name,
        "FLOOR",
        "the code when no name is given"
    );
}

#[test]
fn an_event_without_sections_keeps_plain_labels() {
    let layout =
        Layout::parse_rows("rows", [("a", 3), ("BB", 500)].into_iter(), &limits()).expect("rows");
    assert!(!layout.has_sections());
    assert_eq!(layout.find(&label("BB500")), Some(502));
    assert_eq!(layout.label(3).expect("label").as_str(), "BB1");
    assert_eq!(
        layout.encode(),
        "A:3,BB:500",
        "the stored form of earlier versions"
    );
}

#[test]
fn a_layout_round_trips_through_its_stored_form() {
    for layout in [
        stadium(),
        Layout::parse_rows("rows", [("A", 3)].into_iter(), &limits()).expect("rows"),
    ] {
        let decoded = Layout::decode(&layout.encode()).expect("decodes");
        assert_eq!(decoded, layout);
        assert_eq!(decoded.digest(), layout.digest());
    }
    assert_ne!(
        stadium().digest(),
        Layout::decode("A:3").expect("old").digest()
    );
    assert_eq!(Layout::decode("v2;nonsense"), None);
}

#[test]
fn limits_and_repeats_name_the_field() {
    let small = LayoutLimits {
        max_seats: 100,
        max_sections: 2,
        max_rows_per_section: 2,
        max_seats_per_row: 60,
    };
    let rows = |rows: Vec<(&'static str, u32)>| {
        Layout::parse_rows("rows", rows.into_iter(), &small).unwrap_err()
    };
    assert_eq!(rows(vec![("A", 1), ("a", 1)]).field, "rows[1].row");
    assert_eq!(rows(vec![("A", 61)]).field, "rows[0].seat_count");
    assert_eq!(rows(vec![("A", 1), ("B", 1), ("C", 1)]).field, "rows");
    assert_eq!(rows(vec![("A", 60), ("B", 60)]).field, "rows");
    let sections = |specs: Vec<SectionSpec<'static>>| {
        Layout::parse_sections("sections", specs.into_iter(), &small).unwrap_err()
    };
    let spec = |code| SectionSpec {
        code,
        name: "",
        rows: vec![("1", 1)],
    };
    assert_eq!(
        sections(vec![spec("A"), spec("a")]).field,
        "sections[1].code"
    );
    assert_eq!(
        sections(vec![spec("A"), spec("B"), spec("C")]).field,
        "sections"
    );
    assert_eq!(sections(vec![spec("A-1")]).field, "sections[0].code");
}

#[test]
fn a_hundred_thousand_seats_fit_the_default_limits() {
    let codes: Vec<String> = (1..=500).map(|i| i.to_string()).collect();
    let names: Vec<String> = (1..=20).map(|i| i.to_string()).collect();
    let specs = codes.iter().map(|code| SectionSpec {
        code,
        name: "",
        rows: names.iter().map(|n| (n.as_str(), 10)).collect(),
    });
    let layout = Layout::parse_sections("sections", specs, &limits()).expect("stadium");
    assert_eq!(layout.seat_count(), 100_000);
    assert_eq!(layout.find(&label("500-20-10")), Some(99_999));
    assert!(layout.encode().len() < 100_000);
}

fn priced_stadium() -> Layout {
    let categories = PriceCategory::parse_all(
        "price_categories",
        [
            ("cat-1", "Gold | front; rows", 12_000),
            ("CAT-2", "", 4_500),
        ]
        .into_iter()
        .map(|(code, name, price_minor)| crate::domain::CategorySpec {
            code,
            name,
            price_minor,
            currency: "EUR",
        }),
    )
    .expect("categories");
    let codes = ["", "cat-2", "CAT-2", ""];
    stadium()
        .priced(
            categories,
            codes
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("row {i}"), *c)),
        )
        .expect("priced")
}

#[test]
fn a_priced_layout_reads_back_as_written_and_digests_differently() {
    let layout = priced_stadium();
    let stored = layout.encode();
    assert_eq!(Layout::decode(&stored), Some(layout.clone()));
    assert_ne!(layout.digest(), stadium().digest());
    assert!(
        !stadium().encode().contains('\n'),
        "a free layout is stored as before"
    );
    assert_eq!(
        layout.category_of(0).map(|c| c.code.as_str()),
        Some("CAT-1")
    );
    assert_eq!(layout.category_of(10).map(|c| c.price_minor), Some(4_500));
    let quote = layout.quote(&[label("FLOOR-1-1"), label("112-A-1"), label("N1-12-1")]);
    assert_eq!(
        (quote.prices, quote.total),
        (vec![4_500, 12_000, 12_000], 28_500)
    );
}

#[test]
fn a_row_naming_an_unknown_category_is_refused() {
    let categories = priced_stadium().categories().to_vec();
    let refused = stadium()
        .priced(categories, [("rows[0].price_category".to_owned(), "NOPE")])
        .expect_err("unknown");
    assert_eq!(refused.field, "rows[0].price_category");
}
