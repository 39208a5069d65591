use super::*;
use std::cell::RefCell;
use std::collections::HashSet;

fn rows(counts: &[u32]) -> Vec<PlanRow> {
    let mut first = 0;
    counts
        .iter()
        .enumerate()
        .map(|(r, &seats)| {
            let row = PlanRow {
                first,
                seats,
                base: r as u32 * ROW_STEP,
                prefix: ((b'A' + r as u8) as char).to_string(),
                ranks: None,
            };
            first += seats;
            row
        })
        .collect()
}

fn pick(plan: &[PlanRow], n: usize, taken: &[u32]) -> Option<Vec<u32>> {
    let taken: HashSet<u32> = taken.iter().copied().collect();
    choose(plan, n, |i| !taken.contains(&i))
}

#[test]
fn the_middle_of_the_front_row_first() {
    assert_eq!(pick(&rows(&[10, 10]), 2, &[]), Some(vec![4, 5]));
    assert_eq!(pick(&rows(&[9]), 3, &[]), Some(vec![3, 4, 5]));
}

#[test]
fn the_front_row_even_at_its_edge_before_the_next_row() {
    let taken: Vec<u32> = (2..10).collect();
    assert_eq!(pick(&rows(&[10, 10]), 2, &taken), Some(vec![0, 1]));
}

#[test]
fn ties_go_to_the_lower_seat_number() {
    assert_eq!(pick(&rows(&[10]), 2, &[4, 5]), Some(vec![2, 3]));
}

#[test]
fn no_single_seat_is_left_alone_when_another_choice_exists() {
    // Seat 3 of 6 is taken: 4-5 scores best but strands seat 6, 5-6 strands seat 4.
    assert_eq!(pick(&rows(&[6]), 2, &[2]), Some(vec![0, 1]));
    // With no other choice, a block that strands a seat is still better than none.
    assert_eq!(pick(&rows(&[3]), 2, &[]), Some(vec![0, 1]));
}

#[test]
fn seats_are_split_only_when_no_row_has_them_together() {
    // A1 and A3 free, B full: one seat each, the middle first.
    let plan = rows(&[3, 2]);
    assert_eq!(pick(&plan, 2, &[1, 3, 4]), Some(vec![0, 2]));
    assert_eq!(pick(&plan, 3, &[1, 3, 4]), None);
}

#[test]
fn a_full_section_of_pairs_is_filled_without_a_single_split() {
    let plan = rows(&[100; 100]);
    let taken = RefCell::new(vec![false; 10_000]);
    for request in 0..5_000 {
        let seats = choose(&plan, 2, |i| !taken.borrow()[i as usize])
            .unwrap_or_else(|| panic!("request {request} found no seats"));
        assert_eq!(seats[1], seats[0] + 1, "request {request} was split");
        assert_eq!(
            seats[0] / 100,
            seats[1] / 100,
            "request {request} spans rows"
        );
        for s in seats {
            assert!(!std::mem::replace(
                &mut taken.borrow_mut()[s as usize],
                true
            ));
        }
    }
    assert!(taken.borrow().iter().all(|t| *t));
}

#[test]
fn plans_follow_the_pool() {
    let layout = Layout::parse_sections(
        "sections",
        [
            crate::domain::SectionSpec {
                code: "N",
                name: "",
                rows: vec![("A", 4), ("B", 4)],
            },
            crate::domain::SectionSpec {
                code: "S",
                name: "",
                rows: vec![("A", 2)],
            },
        ]
        .into_iter(),
        &crate::domain::LayoutLimits::default(),
    )
    .expect("layout");
    let all = plan(&layout, &Pool::Event);
    let order: Vec<&str> = all.iter().map(|r| r.prefix.as_str()).collect();
    assert_eq!(order, ["N-A-", "S-A-", "N-B-"]);
    let south = plan(&layout, &Pool::Section(1));
    assert_eq!(south.len(), 1);
    assert_eq!(south[0].prefix, "S-A-");
    let north = BestAvailable::parse("best", 2, "n", "", 10).expect("section N");
    assert_eq!(north.pool(&layout), Some(Pool::Section(0)));
    let nowhere = BestAvailable::parse("best", 2, "X", "", 10).expect("a section code");
    assert_eq!(nowhere.pool(&layout), None);
    let err = BestAvailable::parse("best", 11, "", "", 10).expect_err("too many");
    assert!(err.to_string().contains("best.count"), "{err}");
    let err = BestAvailable::parse("best", 2, "N", "CAT1", 10).expect_err("both");
    assert!(err.to_string().contains("best.section"), "{err}");
    let err = BestAvailable::parse("best", 2, "", "no spaces", 10).expect_err("bad code");
    assert!(err.to_string().contains("best.price_category"), "{err}");
}

#[test]
fn an_even_fill_never_beats_the_middle_of_another_run() {
    // Seat 7 of 500 is taken: the pair at the middle, not the evenly filling 5-6 by the aisle.
    assert_eq!(pick(&rows(&[500]), 2, &[6]), Some(vec![249, 250]));
    // In one run, the pair that leaves even gaps, next to the middle.
    assert_eq!(pick(&rows(&[100]), 2, &[]), Some(vec![48, 49]));
}

#[test]
fn ranks_set_at_creation_decide_over_the_default() {
    let ranked = |ranks: &[u32]| {
        let mut plan = rows(&[6, 6]);
        plan[0].ranks = Some(SeatRanks::new(ranks));
        plan[0].base = ranks.iter().copied().min().unwrap_or(0);
        plan.sort_by_key(|r| (r.base, r.first));
        plan
    };
    // Row A's best seats are at its left end, not in its middle.
    let plan = ranked(&[50, 51, 52, 70, 71, 72]);
    assert_eq!(pick(&plan, 2, &[]), Some(vec![0, 1]));
    // Split by rank when nothing is together: A1, then A3.
    assert_eq!(
        pick(&plan, 2, &[1, 3, 5, 6, 7, 8, 9, 10, 11]),
        Some(vec![0, 2])
    );
    // Row A ranked below row B: B's middle first.
    assert_eq!(pick(&ranked(&[5_000; 6]), 2, &[]), Some(vec![8, 9]));
}

#[test]
fn ranks_survive_the_stored_form() {
    let layout = Layout::parse_rows(
        "rows",
        [("A", 3), ("B", 2)].into_iter(),
        &Default::default(),
    )
    .expect("layout")
    .ranked([
        ("r0".to_owned(), &[5u32, 1, 9][..]),
        ("r1".to_owned(), &[][..]),
    ])
    .expect("ranks");
    let stored = layout.encode();
    assert!(stored.ends_with("ranks=0:5,1,9"), "{stored}");
    assert_eq!(Layout::decode(&stored), Some(layout.clone()));
    let err = Layout::parse_rows("rows", [("A", 3)].into_iter(), &Default::default())
        .expect("layout")
        .ranked([("rows[0].seat_ranks".to_owned(), &[1u32, 2][..])])
        .expect_err("two ranks for three seats");
    assert_eq!(err.field, "rows[0].seat_ranks");
}
