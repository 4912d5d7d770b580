import Foundation
import Mustache

/// The console's pages as Mustache templates (swift-mustache), compiled into the binary so that an installed
/// `levy` needs no template folder. Values are HTML-escaped by `{{…}}`; only the SVG charts, which `ConsoleChart`
/// builds from escaped text, go in unescaped (`{{{chart}}}`). No page loads anything from elsewhere.
enum ConsoleViews {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in templates {
            // The templates are constants of this file; one that does not parse is a programming error caught by the
            // console tests, and renders as an empty page rather than stopping the server.
            if let template = try? MustacheTemplate(string: text) { library.register(template, named: name) }
        }
        return library
    }()

    static func render(_ name: String, _ context: [String: Any]) -> String {
        library.render(withoutNils(context) ?? [String: Any](), withTemplate: name) ?? "<!doctype html><title>Levy console</title><p>This page could not be rendered.</p>"
    }

    /// The context with every absent optional as a null (Mustache would print an absent optional as "nil"): a null
    /// renders as nothing and as false in a section, and, unlike a missing key, it stops the lookup, so that a row of
    /// a section whose value is absent does not take the page's value of the same name (a reconciliation run without
    /// an error showed the page's error in its status).
    static func withoutNils(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return nil }
            return withoutNils(wrapped)
        }
        if value is NSNull { return nil }
        if let dictionary = value as? [String: Any] { return dictionary.mapValues { withoutNils($0) ?? NSNull() } }
        if let array = value as? [[String: Any]] { return array.map { $0.mapValues { withoutNils($0) ?? NSNull() } } }
        return value
    }

    static let style = """
        body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
        header{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;padding:.6rem 1.5rem;background:#17324d;color:#fff}
        header a{color:#dfe9f3;text-decoration:none;padding:.15rem .35rem;border-radius:3px}
        header a[aria-current]{background:#fff;color:#17324d}
        header form{margin-left:auto}
        main{padding:1rem 1.5rem 3rem;max-width:1200px}
        h1{font-size:1.4rem;margin:.4rem 0 1rem}
        h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
        table{border-collapse:collapse;background:#fff;margin:.5rem 0 1rem;font-variant-numeric:tabular-nums}
        th,td{border:1px solid #d5dbe1;padding:.3rem .55rem;text-align:left;vertical-align:top}
        td.n,th.n{text-align:right}
        td:first-child{white-space:nowrap}
        tr.total td{font-weight:600;background:#eef2f6}
        tr.alert td{background:#fff1e6}
        form.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;background:#fff;padding:.6rem .8rem;border:1px solid #d5dbe1}
        label{display:flex;flex-direction:column;font-size:.85rem;gap:.15rem}
        input,select,button{font:inherit;padding:.25rem .4rem}
        .notice{background:#fff8d6;border:1px solid #e5d38a;padding:.5rem .8rem}
        .error{background:#fde8e8;border:1px solid #e3a0a0;padding:.5rem .8rem}
        .muted{color:#5d6b78;font-size:.85rem}
        code,.hash{font-family:ui-monospace,monospace;font-size:.8rem;word-break:break-all}
        .charts{display:flex;flex-wrap:wrap;gap:1.5rem}
        svg{background:#fff;border:1px solid #d5dbe1}
        @media print{header nav,header form,form.filters,form{display:none}body{background:#fff}main{padding:0}th,td{border-color:#999}}
        """

    static let templates: [String: String] = [
        "layout": """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{title}} · Levy console</title>{{#refresh}}<meta http-equiv="refresh" content="{{refresh}}">{{/refresh}}
            <style>{{{style}}}</style></head>
            <body><header><strong>Levy console</strong><span>{{merchant}}</span>
            <nav>{{#nav}}<a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a> {{/nav}}</nav>
            <form method="post" action="/console/sign-out"><input type="hidden" name="csrf" value="{{csrf}}"><button>Sign out</button></form>
            </header><main><h1>{{title}}</h1>{{#notice}}<p class="notice">{{notice}}</p>{{/notice}}{{#error}}<p class="error">{{error}}</p>{{/error}}
            {{$content}}{{/content}}
            <p class="muted">Signed in with key {{keyID}} ({{scopes}}). Amounts in USD.</p></main></body></html>
            """,
        "sign-in": """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Sign in · Levy console</title><style>{{{style}}}</style></head>
            <body><header><strong>Levy console</strong></header><main><h1>Sign in</h1>
            {{#error}}<p class="error">{{error}}</p>{{/error}}
            <p>Sign in with an API key that has the accountant, reconciler or admin scope. The key is checked once and not kept in
            your browser: the console gives it a session that ends after 30 idle minutes, 8 hours, or when you sign out.</p>
            <form method="post" action="/console/sign-in" class="filters">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <label>API key <input type="password" name="key" autocomplete="off" size="50" required></label>
            <button>Sign in</button></form></main></body></html>
            """,
        "cross-origin": """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Refused · Levy console</title><style>{{{style}}}</style></head>
            <body><header><strong>Levy console</strong></header><main><h1>Refused</h1>
            <p class="error">This form was sent from a page of another site, so the console did not read it.</p>
            <p><a href="/console">Open the console</a> and send it from there.</p></main></body></html>
            """,
        "liability": """
            {{<layout}}{{$content}}
            <form method="get" action="/console/liability" class="filters">
            <label>From <input type="date" name="from" value="{{from}}"></label>
            <label>Through <input type="date" name="through" value="{{through}}"></label>
            <label>By <select name="period"><option value="month"{{#monthly}} selected{{/monthly}}>month</option>
            <option value="quarter"{{^monthly}} selected{{/monthly}}>quarter</option></select></label>
            {{#state}}<input type="hidden" name="state" value="{{state}}">{{/state}}
            <button>Show</button></form>
            {{#state}}<p><a href="{{back}}">All states</a> · jurisdictions of {{state}}</p>{{/state}}
            <div class="charts">{{{chartByGroup}}}{{{chartByPeriod}}}</div>
            <table><thead><tr><th>Period</th><th>{{groupLabel}}</th><th class="n">Gross sales</th><th class="n">Exempt</th>
            <th class="n">Taxable</th><th class="n">Tax collected</th><th class="n">Tax refunded</th><th class="n">Net tax due</th></tr></thead><tbody>
            {{#rows}}<tr><td>{{period}}</td><td>{{#href}}<a href="{{href}}">{{group}}</a>{{/href}}{{^href}}{{group}}{{/href}}</td>
            <td class="n">{{gross}}</td><td class="n">{{exempt}}</td><td class="n">{{taxable}}</td><td class="n">{{collected}}</td>
            <td class="n">{{refunded}}</td><td class="n">{{net}}</td></tr>{{/rows}}
            <tr class="total"><td colspan="2">Total</td><td class="n">{{total.gross}}</td><td class="n">{{total.exempt}}</td><td class="n">{{total.taxable}}</td>
            <td class="n">{{total.collected}}</td><td class="n">{{total.refunded}}</td><td class="n" id="net-total">{{total.net}}</td></tr>
            </tbody></table>
            <p class="muted">Summed from the ledger up to entry {{ledgerHead}}, as the liability export sums it (sales by tax date, refunds by the
            day they were given). {{rowCount}} ledger rows.</p>
            {{/content}}{{/layout}}
            """,
        "transactions": """
            {{<layout}}{{$content}}
            <form method="get" action="/console/transactions" class="filters">
            <label>Order id <input name="id" value="{{search.id}}" size="28"></label>
            <label>From <input type="date" name="from" value="{{search.from}}"></label>
            <label>Through <input type="date" name="through" value="{{search.through}}"></label>
            <label>State <input name="state" value="{{search.state}}" size="3" maxlength="2"></label>
            <label>Jurisdiction code <input name="jurisdiction" value="{{search.jurisdiction}}" size="14"></label>
            <label>Customer pseudonym <input name="customer" value="{{search.customer}}" size="18"></label>
            <button>Search</button></form>
            <table><thead><tr><th>Order</th><th>Tax date</th><th>Status</th><th>Customer</th><th class="n">Net</th><th class="n">Tax</th>
            <th class="n">Refunds</th></tr></thead><tbody>
            {{#orders}}<tr><td><a href="/console/transactions/{{id}}">{{id}}</a></td><td>{{taxDate}}</td><td>{{status}}</td><td>{{customer}}</td>
            <td class="n">{{net}}</td><td class="n">{{tax}}</td><td class="n">{{refunds}}</td></tr>{{/orders}}
            {{^orders}}<tr><td colspan="7">No order matches.</td></tr>{{/orders}}
            </tbody></table><p class="muted">The newest {{limit}} matches at most, by tax date.</p>
            {{/content}}{{/layout}}
            """,
        "transaction": """
            {{<layout}}{{$content}}
            <table><tbody>
            <tr><th>Status</th><td>{{order.status}}</td><th>Tax date</th><td>{{order.taxDate}}</td></tr>
            <tr><th>Net</th><td>{{order.net}}</td><th>Tax</th><td id="order-tax">{{order.tax}}</td></tr>
            <tr><th>Tables</th><td><code>{{order.tableVersion}}</code></td><th>Rounding</th><td>{{order.rounding}}</td></tr>
            <tr><th>Customer</th><td>{{order.customer}}</td><th>Registrations used</th><td>{{order.registrations}}</td></tr>
            <tr><th>Origin</th><td>{{order.origin}}</td><th>Destination</th><td>{{order.destination}}</td></tr>
            <tr><th>Billing address</th><td>{{order.billing}}</td><th>Remote-seller elections</th><td id="order-elections">{{order.elections}}</td></tr>
            </tbody></table>
            {{#personal}}<p class="notice">This page shows personal data; your view was recorded as disclosure {{personal}}.</p>{{/personal}}
            <h2>Lines</h2>
            {{#lines}}<table class="line"><tbody>
            <tr><th>Line {{number}}</th><td colspan="5"><code>{{code}}</code>, {{fulfilment}}, {{quantity}} × → {{amount}} (discount {{discount}})</td></tr>
            <tr><th>Sourced</th><td colspan="5">to {{sourcedTo}} by rule <code>{{sourcingRule}}</code>{{#taxType}}; {{taxType}} tax{{/taxType}}</td></tr>
            <tr><th>Taxability</th><td colspan="5">{{taxability}}</td></tr>
            <tr><th>Exempt</th><td colspan="5">{{exempt}}{{#exemptReason}} ({{exemptReason}}){{/exemptReason}}{{#certificate}}, certificate {{certificate}}{{/certificate}}</td></tr>
            {{#notCollecting}}<tr><th>Not collecting</th><td colspan="5">{{notCollecting}}</td></tr>{{/notCollecting}}
            <tr><th>Jurisdiction</th><th>Level</th><th>Name</th><th class="n">Rate</th><th class="n">Taxable</th><th class="n">Tax</th></tr>
            {{#taxes}}<tr><td><code>{{code}}</code></td><td>{{level}}</td><td>{{name}}</td><td class="n">{{rate}}</td><td class="n">{{taxable}}</td>
            <td class="n">{{tax}}</td></tr>{{/taxes}}
            <tr class="total"><td colspan="5">Line tax</td><td class="n">{{tax}}</td></tr>
            </tbody></table>{{/lines}}
            <h2>Ledger entries</h2>
            <table><thead><tr><th>#</th><th>Kind</th><th>Line</th><th>Jurisdiction</th><th class="n">Rate</th><th class="n">Taxable</th><th class="n">Tax</th>
            <th>Hash</th></tr></thead><tbody>
            {{#ledger}}<tr><td>{{seq}}</td><td>{{kind}}{{#refund}} {{refund}}{{/refund}}</td><td>{{line}}</td><td><code>{{code}}</code></td>
            <td class="n">{{rate}}</td><td class="n">{{taxable}}</td><td class="n">{{tax}}</td><td class="hash">{{hash}}</td></tr>{{/ledger}}
            {{^ledger}}<tr><td colspan="8">Not captured: no ledger entry yet.</td></tr>{{/ledger}}
            </tbody></table>
            {{/content}}{{/layout}}
            """,
        "exports": """
            {{<layout}}{{$content}}
            {{#available}}
            <form method="post" action="/console/exports" class="filters">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <label>Export <select name="kind"><option value="liability">liability</option><option value="detail">detail</option>
            <option value="saft">SAF-T</option><option value="report">HTML report</option></select></label>
            <label>From <input type="date" name="from" value="{{from}}" required></label>
            <label>Through <input type="date" name="through" value="{{through}}" required></label>
            <label>Personal data <select name="personal_data"><option value="false">no (pseudonyms)</option><option value="true">yes (a disclosure)</option></select></label>
            <label>Requested by <input name="requested_by" size="16"></label>
            <label>Reason <input name="reason" size="24"></label>
            <button>Start</button></form>
            {{/available}}
            {{^available}}<p class="error">This server was started without an export signing key: exports cannot run.</p>{{/available}}
            <table><thead><tr><th>Job</th><th>Export</th><th>Period</th><th>Status</th><th class="n">Rows</th><th>Started</th><th>Files</th></tr></thead><tbody>
            {{#jobs}}<tr><td>{{id}}</td><td>{{kind}}{{#personal}} (personal data){{/personal}}</td><td>{{from}} – {{through}}</td>
            <td class="status">{{status}}{{#error}}: {{error}}{{/error}}</td><td class="n">{{rows}}</td><td>{{created}}</td>
            <td>{{#download}}<a href="{{download}}" class="download">download (tar)</a> {{files}}{{/download}}{{#removed}}files withdrawn {{removed}} (a customer was erased){{/removed}}</td></tr>{{/jobs}}
            {{^jobs}}<tr><td colspan="7">No export yet.</td></tr>{{/jobs}}
            </tbody></table>
            <h2>Verify a downloaded export</h2>
            {{#verified}}<p class="notice" id="verify-result">{{verified}}</p>{{/verified}}
            {{#hasProblems}}<ul class="error" id="verify-problems">{{#problems}}<li>{{.}}</li>{{/problems}}</ul>{{/hasProblems}}
            <form method="post" action="/console/exports/verify" enctype="multipart/form-data" class="filters">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <label>Archive (.tar, as downloaded) <input type="file" name="archive" accept=".tar" required></label>
            <button>Verify</button></form>
            <p class="muted">The signature is checked against this installation's signing key ({{signingKey}}), then every file's size and
            SHA-256. On the command line: <code>tar -xf</code>, then <code>levy export verify FOLDER --public-key {{signingKey}}</code>.</p>
            {{/content}}{{/layout}}
            """,
        "reconciliations": """
            {{<layout}}{{$content}}
            {{#available}}
            <form method="post" action="/console/reconciliations" enctype="multipart/form-data" class="filters">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <label>Settlement file (CSV) <input type="file" name="settlements" accept=".csv,text/csv" required></label>
            <label>Layout <select name="layout"><option value="stripe">stripe</option><option value="generic">generic</option></select></label>
            <label>Fee % <input name="fee_percent" size="5" placeholder="2.9"></label>
            <label>Fixed fee <input name="fee_fixed" size="5" placeholder="0.30"></label>
            <label>From <input type="date" name="from"></label>
            <label>Through <input type="date" name="through"></label>
            <label>Late after <input name="late_after_days" size="3" placeholder="5"> days</label>
            <label>Tax <select name="recompute_tax"><option value="true">recomputed from each order's evidence</option>
            <option value="false">not recomputed</option></select></label>
            <details><summary>A layout of your own (column names, type names, units), based on the layout chosen</summary>
            {{#columns}}<label>{{field}} <input name="column_{{field}}" size="12" maxlength="100"></label> {{/columns}}
            <label>Sale types <input name="sale_types" size="16" placeholder="charge,payment"></label>
            <label>Refund types <input name="refund_types" size="16" placeholder="refund"></label>
            <label>Amounts <select name="amount_units"><option value="">as the layout</option><option value="major">major (12.34)</option>
            <option value="minor">minor (1234)</option></select></label></details>
            <button>Reconcile</button></form>
            {{/available}}
            <table><thead><tr><th>Run</th><th>File</th><th>Status</th><th class="n">Lines</th><th class="n">Matched</th><th class="n">Differences</th><th>Started</th></tr></thead><tbody>
            {{#runs}}<tr><td>{{#done}}<a href="/console/reconciliations/{{id}}">{{id}}</a>{{/done}}{{^done}}{{id}}{{/done}}</td><td>{{file}} ({{layout}})</td>
            <td class="status">{{status}}{{#error}}: {{error}}{{/error}}</td><td class="n">{{lines}}</td><td class="n">{{matched}}</td>
            <td class="n">{{differences}}</td><td>{{created}}</td></tr>{{/runs}}
            {{^runs}}<tr><td colspan="7">No reconciliation yet.</td></tr>{{/runs}}
            </tbody></table>
            {{/content}}{{/layout}}
            """,
        "reconciliation": """
            {{<layout}}{{$content}}
            <p>{{file}} ({{layout}}), {{lines}} lines: {{matched}} matched, <span id="differences-total">{{differences}}</span> differences.
            Levy charged {{levySales}} and refunded {{levyRefunds}}; the file settled {{settled}}, fees {{fees}}, net {{net}}.
            <a href="{{download}}" class="download">Download the report (tar)</a></p>
            <table><thead><tr><th>Reason</th><th class="n">Differences</th></tr></thead><tbody>
            {{#reasons}}<tr><td><a href="/console/reconciliations/{{run}}?reason={{reason}}">{{reason}}</a></td><td class="n">{{count}}</td></tr>{{/reasons}}
            </tbody></table>
            <h2>{{#reason}}Differences: {{reason}}{{/reason}}{{^reason}}Differences{{/reason}} ({{shown}} of {{matching}})</h2>
            <table><thead><tr><th>Reason</th><th>Order</th><th>Refund</th><th>Line</th><th class="n">Expected</th><th class="n">Actual</th><th>Detail</th></tr></thead><tbody>
            {{#rows}}<tr class="difference"><td>{{reason}}</td><td>{{#orderLink}}<a href="{{orderLink}}">{{order}}</a>{{/orderLink}}{{^orderLink}}{{order}}{{/orderLink}}</td>
            <td>{{refund}}</td><td>{{line}}</td><td class="n">{{expected}}</td><td class="n">{{actual}}</td><td>{{detail}}</td></tr>{{/rows}}
            {{^rows}}<tr><td colspan="7">None.</td></tr>{{/rows}}
            </tbody></table>
            {{/content}}{{/layout}}
            """,
        "nexus": """
            {{<layout}}{{$content}}
            <form method="get" action="/console/nexus" class="filters"><label>Year <input type="number" name="year" value="{{year}}" min="2000" max="2100"></label>
            <button>Show</button></form>
            <p>{{registrations}} · thresholds file {{digest}} · as of {{asOf}}</p>
            <table><thead><tr>{{#columns}}<th>{{.}}</th>{{/columns}}</tr></thead><tbody>
            {{#rows}}<tr{{#alert}} class="alert"{{/alert}}>{{#fields}}<td>{{.}}</td>{{/fields}}</tr>{{/rows}}
            </tbody></table>
            {{/content}}{{/layout}}
            """,
        "tables": """
            {{<layout}}{{$content}}
            <p>Quoting with <code>{{inUse}}</code>{{#current}}; the store's current version is <code>{{current}}</code>{{/current}}.</p>
            <h2>Sources and freshness</h2>
            <table><thead><tr><th>Source</th><th>Verified through</th><th>Fresh on {{today}}</th></tr></thead><tbody>
            {{#sources}}<tr{{#stale}} class="alert"{{/stale}}><td>{{name}}</td><td>{{through}}</td><td>{{#stale}}no: answers past this date say so{{/stale}}{{^stale}}yes{{/stale}}</td></tr>{{/sources}}
            </tbody></table>
            <h2>Imported versions</h2>
            <table><thead><tr><th>Version</th><th>Created</th><th>Parent</th><th>Official files</th></tr></thead><tbody>
            {{#versions}}<tr><td><code>{{id}}</code></td><td>{{created}}</td><td><code>{{parent}}</code></td><td>{{files}}</td></tr>{{/versions}}
            {{^versions}}<tr><td colspan="4">None imported: the shipped tables are in use.</td></tr>{{/versions}}
            </tbody></table>
            {{#hasVersions}}<h2>Compare two versions</h2>
            <form method="get" action="/console/tables" class="filters">
            <label>From <select name="from">{{#choices}}<option>{{id}}</option>{{/choices}}</select></label>
            <label>To <select name="to">{{#choices}}<option>{{id}}</option>{{/choices}}</select></label>
            <button>Compare</button></form>{{/hasVersions}}
            {{#diffFrom}}<h2>{{diffFrom}} → {{diffTo}}</h2><pre class="diff">{{#diff}}{{line}}
            {{/diff}}{{^diff}}No rate or boundary row differs.{{/diff}}</pre>{{/diffFrom}}
            {{/content}}{{/layout}}
            """,
        "disclosures": """
            {{<layout}}{{$content}}
            <table><thead><tr><th>Record</th><th>When</th><th>What</th><th>Period</th><th>Requested by</th><th>Reason</th><th>Status</th></tr></thead><tbody>
            {{#records}}<tr><td>{{id}}</td><td>{{at}}</td><td>{{kind}}</td><td>{{from}} – {{through}}</td><td>{{requestedBy}}</td><td>{{reason}}</td>
            <td>{{status}}</td></tr>{{/records}}
            {{^records}}<tr><td colspan="7">No personal data has been disclosed.</td></tr>{{/records}}
            </tbody></table>
            {{/content}}{{/layout}}
            """,
        "message": """
            {{<layout}}{{$content}}<p><a href="/console/liability">Back to the console</a></p>{{/content}}{{/layout}}
            """,
    ]
}

/// A horizontal bar chart as inline SVG: one bar per label, its amount written beside it. Labels and amounts are
/// escaped here; the chart goes into the page as it is.
enum ConsoleChart {
    static func bars(title: String, _ items: [(label: String, cents: Int64)]) -> String {
        let shown = items.prefix(20).map { item in (label: item.label.count > 22 ? item.label.prefix(21) + "…" : item.label, cents: item.cents) }
        let longest = shown.map(\.label.count).max() ?? 4
        let width = 560, barHeight = 18, gap = 6, labelWidth = 16 + 7 * max(4, longest), top = 28
        let height = top + shown.count * (barHeight + gap) + 8
        let largest = max(1, shown.map { abs($0.cents) }.max() ?? 1)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" role=\"img\" aria-label=\"\(escape(title))\">"
        svg += "<text x=\"8\" y=\"18\" font-size=\"13\" font-weight=\"600\">\(escape(title))</text>"
        for (index, item) in shown.enumerated() {
            let y = top + index * (barHeight + gap)
            let length = Int(Double(abs(item.cents)) / Double(largest) * Double(width - labelWidth - 110))
            svg += "<text x=\"8\" y=\"\(y + 13)\" font-size=\"12\">\(escape(item.label))</text>"
            svg += "<rect x=\"\(labelWidth)\" y=\"\(y)\" width=\"\(max(1, length))\" height=\"\(barHeight)\" fill=\"\(item.cents < 0 ? "#c0504d" : "#2f6fa7")\"/>"
            svg += "<text x=\"\(labelWidth + max(1, length) + 6)\" y=\"\(y + 13)\" font-size=\"12\">\(escape(ConsoleFormat.money(item.cents)))</text>"
        }
        return svg + "</svg>"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}

enum ConsoleFormat {
    /// Cents as dollars with a thousands separator: 123456 -> 1,234.56.
    static func money(_ cents: Int64) -> String {
        let negative = cents < 0
        let magnitude = cents.magnitude
        var whole = String(magnitude / 100)
        var grouped = ""
        while whole.count > 3 {
            grouped = "," + whole.suffix(3) + grouped
            whole.removeLast(3)
        }
        let fraction = magnitude % 100
        return (negative ? "-" : "") + whole + grouped + "." + (fraction < 10 ? "0" : "") + String(fraction)
    }
}
