//! Parser productions for selectors, label matchers, grouping lists, binary
//! operator modifiers, aggregations, function calls and the postfix `[…]`,
//! `offset` and `@` modifiers (child module of `parser.rs`).

use super::super::functions::get_function;
use super::super::gofmt::format_fixed;
use super::super::lexer::is_label;
use super::*;

/// Go `timestamp.FromFloatSeconds`, with amd64's out-of-range conversion result.
fn from_float_seconds(ts: f64) -> i64 {
    let ms = (ts * 1000.0).round();
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&ms) {
        ms as i64
    } else {
        i64::MIN
    }
}

impl<'a> Parser<'a> {
    /// `metric_identifier [label_matchers]`, or `label_matchers` when `name` is `None`.
    pub(super) fn parse_vector_selector(&mut self, name: Option<Token>) -> PResult<Node> {
        let mut start = name.as_ref().map(|t| t.pos);
        let mut matchers = Vec::new();
        if self.peek_kind()? == K::LeftBrace {
            let open = self.bump();
            start.get_or_insert(open.pos);
            matchers = self.parse_label_matchers()?;
        }
        let name = name.map(|t| t.val);
        if let Some(n) = &name {
            matchers.push(LabelMatcher::new(MatchKind::Equal, "__name__", n.clone()));
        }
        let vs = VectorSelector { name, matchers, offset_ms: 0, at: None };
        Ok(Node::new(Expr::VectorSelector(vs), Sp::leaf(start.unwrap_or(0), self.last_end)))
    }

    /// After `{`: `label_match_list [","] "}"` or `"}"`.
    fn parse_label_matchers(&mut self) -> PResult<Vec<LabelMatcher>> {
        let mut out = Vec::new();
        if self.peek_kind()? == K::RightBrace {
            self.bump();
            return Ok(out);
        }
        loop {
            let name = self.expect(K::Identifier, MATCHING, "identifier or \"}\"")?;
            let kind = match self.peek_kind()? {
                K::Eql => MatchKind::Equal,
                K::Neq => MatchKind::NotEqual,
                K::EqlRegex => MatchKind::Regex,
                K::NeqRegex => MatchKind::NotRegex,
                _ => return self.unexpected(MATCHING, "label matching operator"),
            };
            self.bump();
            let v = self.expect(K::String, MATCHING, "string")?;
            let value = self.unquote(&v)?;
            out.push(LabelMatcher::new(kind, name.val, value));
            match self.peek_kind()? {
                K::Comma => {
                    self.bump();
                    if self.peek_kind()? == K::RightBrace {
                        self.bump();
                        return Ok(out);
                    }
                }
                K::RightBrace => {
                    self.bump();
                    return Ok(out);
                }
                _ => return self.unexpected(MATCHING, "\",\" or \"}\""),
            }
        }
    }

    /// `"(" [label {"," label}] [","] ")"`.
    fn parse_grouping_labels(&mut self) -> PResult<Vec<String>> {
        self.expect(K::LeftParen, GROUPING, "\"(\"")?;
        let mut labels = Vec::new();
        if self.peek_kind()? == K::RightParen {
            self.bump();
            return Ok(labels);
        }
        loop {
            let t = self.peek()?;
            if !is_maybe_label(t.kind) || !is_label(&t.val) {
                return self.unexpected(GROUPING, "label");
            }
            labels.push(self.bump().val);
            match self.peek_kind()? {
                K::Comma => {
                    self.bump();
                    if self.peek_kind()? == K::RightParen {
                        self.bump();
                        return Ok(labels);
                    }
                }
                K::RightParen => {
                    self.bump();
                    return Ok(labels);
                }
                _ => return self.unexpected(GROUPING, "\",\" or \")\""),
            }
        }
    }

    /// `[bool] [(on|ignoring) labels [(group_left|group_right) [labels]]]`.
    pub(super) fn parse_bin_modifiers(&mut self) -> PResult<Modifiers> {
        let return_bool = self.peek_kind()? == K::Bool;
        if return_bool {
            self.bump();
        }
        let mut m = VectorMatching {
            card: VectorMatchCardinality::OneToOne, on: false, labels: Vec::new(), include: Vec::new(),
        };
        let k = self.peek_kind()?;
        if k == K::On || k == K::Ignoring {
            self.bump();
            m.on = k == K::On;
            m.labels = self.parse_grouping_labels()?;
            let g = self.peek_kind()?;
            if g == K::GroupLeft || g == K::GroupRight {
                self.bump();
                m.card = if g == K::GroupLeft {
                    VectorMatchCardinality::ManyToOne
                } else {
                    VectorMatchCardinality::OneToMany
                };
                match self.peek_kind()? {
                    K::LeftParen => m.include = self.parse_grouping_labels()?,
                    n if starts_expr(n) => {}
                    _ => return self.unexpected(GROUPING, "\"(\""),
                }
            }
        }
        Ok(Modifiers { return_bool, matching: m })
    }

    fn parse_agg_modifier(&mut self) -> PResult<(Vec<String>, bool)> {
        let without = self.bump().kind == K::Without;
        Ok((self.parse_grouping_labels()?, without))
    }

    /// `op [modifier] "(" args ")" [modifier]`; `op_tok` is consumed, the next token
    /// is `(`, `by` or `without`.
    pub(super) fn parse_aggregate(&mut self, op_tok: Token, op: AggregateOp) -> PResult<Node> {
        self.agg_depth += 1;
        let (mut grouping, mut without) = (Vec::new(), false);
        let (args, sps);
        if matches!(self.peek_kind()?, K::By | K::Without) {
            (grouping, without) = self.parse_agg_modifier()?;
            if self.peek_kind()? != K::LeftParen {
                return self.unexpected("aggregation", "");
            }
            (args, sps) = self.parse_call_body()?;
        } else {
            (args, sps) = self.parse_call_body()?;
            if matches!(self.peek_kind()?, K::By | K::Without) {
                (grouping, without) = self.parse_agg_modifier()?;
            }
        }
        self.agg_depth -= 1;
        if args.is_empty() {
            return Err((op_tok.pos, "no arguments for aggregate expression provided".into()));
        }
        let desired = if op.takes_param() { 2 } else { 1 };
        if args.len() != desired {
            let msg = format!(
                "wrong number of arguments for aggregate expression provided, expected {}, got {}",
                desired,
                args.len()
            );
            return Err((op_tok.pos, msg));
        }
        let (mut args, mut sps) = (args.into_iter(), sps.into_iter());
        let param = if op.takes_param() { args.next().zip(sps.next()) } else { None };
        let (expr, expr_sp) = (args.next().unwrap(), sps.next().unwrap());
        let mut kids = vec![expr_sp];
        let param = param.map(|(p, psp)| {
            kids.push(psp);
            Box::new(p)
        });
        let sp = self.sp(op_tok.pos, self.last_end, kids)?;
        Ok(Node::new(Expr::Aggregate { op, expr: Box::new(expr), param, grouping, without }, sp))
    }

    /// `IDENTIFIER "(" args ")"`; the name is consumed, the next token is `(`.
    pub(super) fn parse_call(&mut self, name: Token) -> PResult<Node> {
        let (args, sps) = self.parse_call_body()?;
        let Some(func) = get_function(&name.val) else {
            return Err((name.pos, format!("unknown function with name {}", quote(&name.val))));
        };
        let sp = self.sp(name.pos, self.last_end, sps)?;
        Ok(Node::new(Expr::Call { func, args }, sp))
    }

    /// `"(" [expr {"," expr}] ")"` (a trailing comma is an error, as in Go).
    fn parse_call_body(&mut self) -> PResult<(Vec<Expr>, Vec<Sp>)> {
        self.bump();
        let (mut args, mut sps) = (Vec::new(), Vec::new());
        if self.peek_kind()? == K::RightParen {
            self.bump();
            return Ok((args, sps));
        }
        loop {
            let n = self.parse_expr(0)?;
            args.push(*n.e);
            sps.push(*n.sp);
            match self.peek_kind()? {
                K::Comma => {
                    let comma = self.bump();
                    if !starts_expr(self.peek_kind()?) {
                        return Err((comma.pos, "trailing commas not allowed in function call args".into()));
                    }
                }
                K::RightParen => {
                    self.bump();
                    return Ok((args, sps));
                }
                _ => return self.unexpected_in_expr(),
            }
        }
    }

    /// `[range]` or `[range:[step]]` after `node`; the next token is `[`.
    pub(super) fn parse_range(&mut self, node: Node) -> PResult<Node> {
        let open = self.bump();
        let t = self.expect(K::Duration, "subquery selector", "duration")?;
        let range_ms = self.duration(&t)?;
        match self.peek_kind()? {
            K::RightBracket => {
                self.bump();
                let vs = match *node.e {
                    Expr::VectorSelector(vs) if vs.offset_ms != 0 => {
                        return Err((open.pos, "no offset modifiers allowed before range".into()))
                    }
                    Expr::VectorSelector(vs) if matches!(vs.at, Some(At::Timestamp(_))) => {
                        return Err((open.pos, "no @ modifiers allowed before range".into()))
                    }
                    Expr::VectorSelector(vs) => vs,
                    _ => return Err((open.pos, "ranges only allowed for vector selectors".into())),
                };
                let sp = self.sp(node.sp.start, self.last_end, vec![*node.sp])?;
                Ok(Node::new(Expr::MatrixSelector { vector: vs, range_ms }, sp))
            }
            K::Colon => {
                self.bump();
                let step_ms = match self.peek_kind()? {
                    K::RightBracket => None,
                    K::Duration => {
                        let t = self.bump();
                        let step = self.duration(&t)?;
                        if self.peek_kind()? != K::RightBracket {
                            return self.unexpected("subquery selector", "\"]\"");
                        }
                        Some(step)
                    }
                    _ => return self.unexpected("subquery selector", "duration or \"]\""),
                };
                self.bump();
                let sp = self.sp(node.sp.start, self.last_end, vec![*node.sp])?;
                let e = Expr::Subquery { expr: node.e, range_ms, step_ms, offset_ms: 0, at: None };
                Ok(Node::new(e, sp))
            }
            _ => self.unexpected("subquery or range", "\":\" or \"]\""),
        }
    }

    /// `offset [-]duration` after `node`; the next token is `offset`.
    pub(super) fn parse_offset(&mut self, mut node: Node) -> PResult<Node> {
        self.bump();
        let neg = self.peek_kind()? == K::Sub;
        if neg {
            self.bump();
        }
        let t = self.expect(K::Duration, "offset", "duration")?;
        let d = self.duration(&t)?;
        let slot = match &mut *node.e {
            Expr::VectorSelector(vs) | Expr::MatrixSelector { vector: vs, .. } => &mut vs.offset_ms,
            Expr::Subquery { offset_ms, .. } => offset_ms,
            _ => {
                let msg = "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery";
                return Err((node.sp.start, msg.into()));
            }
        };
        if *slot != 0 {
            return Err((node.sp.start, "offset may not be set multiple times".into()));
        }
        *slot = if neg { -d } else { d };
        node.sp.end = self.last_end;
        Ok(node)
    }

    /// `@ [+-]number`, `@ start()` or `@ end()` after `node`; the next token is `@`.
    pub(super) fn parse_at(&mut self, mut node: Node) -> PResult<Node> {
        self.bump();
        let at = match self.peek_kind()? {
            k @ (K::Number | K::Add | K::Sub) => {
                if k != K::Number {
                    self.bump();
                }
                let t = self.expect(K::Number, "@", "timestamp")?;
                let v = self.number(&t)?;
                let ts = if k == K::Sub { -v } else { v };
                if ts.is_nan() || !(-9_223_372_036_854_775_808.0 < ts && ts < 9_223_372_036_854_775_808.0) {
                    let msg = format!("timestamp out of bounds for @ modifier: {}", format_fixed(ts, 6));
                    return Err((node.sp.start, msg));
                }
                At::Timestamp(from_float_seconds(ts))
            }
            k @ (K::Start | K::End) => {
                self.bump();
                self.expect(K::LeftParen, "@", "timestamp")?;
                self.expect(K::RightParen, "@", "timestamp")?;
                if k == K::Start { At::Start } else { At::End }
            }
            _ => return self.unexpected("@", "timestamp"),
        };
        let slot = match &mut *node.e {
            Expr::VectorSelector(vs) | Expr::MatrixSelector { vector: vs, .. } => &mut vs.at,
            Expr::Subquery { at, .. } => at,
            _ => {
                let msg = "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery";
                return Err((node.sp.start, msg.into()));
            }
        };
        if slot.is_some() {
            return Err((node.sp.start, "@ <timestamp> may not be set multiple times".into()));
        }
        *slot = Some(at);
        node.sp.end = self.last_end;
        Ok(node)
    }
}
