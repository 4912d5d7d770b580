import ArgumentParser
import Merchants
import Exports
import Foundation
import JSONInput
import Orders
import Storage
import TaxCore

/// Refuses an option's text that holds what looks like a card number, naming the option, as the API refuses it in
/// the same fields: an export's request and the merchant's details are written into the store, the manifest and
/// the files (probe #7).
func refuseCardNumbers(_ options: KeyValuePairs<String, String?>) throws {
    for (name, text) in options where text.map(CardNumberMask.containsCardNumber) == true {
        throw ValidationError("\(name): \(CardNumberMask.refusal)")
    }
}

/// What every export takes: the store, the period, personal data and who asked, the folder, the signing key.
struct ExportOptions: ParsableArguments {
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var replica: ReplicaOptions
    @Option(help: "First tax date (YYYY-MM-DD).") var from: String
    @Option(help: "Last tax date (YYYY-MM-DD), inclusive.") var to: String
    @Option(help: "A new or empty folder for the files, manifest.json and manifest.sig.") var out: String
    @Flag(help: "Pseudonymize customers and leave out street and city (no disclosure of personal data).") var noPersonalData = false
    @Option(help: "Who asked for the export (required with personal data).") var requestedBy: String?
    @Option(help: "Why, and on what legal basis (required with personal data).") var reason: String?

    func validate() throws { try refuseCardNumbers(["--requested-by": requestedBy, "--reason": reason]) }
    @Option(help: "The Ed25519 signing key: 32 bytes or their base64 (default LEVY_EXPORT_SIGNING_KEY_FILE, else a development key).")
    var signingKey: String?

    func request() throws -> Exporter.Request {
        guard let start = TaxDate(iso: from) else { throw CLIError.input("--from: \"\(from)\" is not a date (YYYY-MM-DD)") }
        guard let end = TaxDate(iso: to) else { throw CLIError.input("--to: \"\(to)\" is not a date (YYYY-MM-DD)") }
        return Exporter.Request(scope: ExportScope(from: start, through: end, personalData: !noPersonalData), requestedBy: requestedBy, reason: reason)
    }

    func exporter() async throws -> Exporter {
        let (service, namespace) = try await database.merchantOrders(existing: true)
        let reading = try await replica.readService(primary: service)
        let exporter = Exporter(database: service.database, reader: reading.reader, ordersSchema: service.schema,
                                customersSchema: namespace + "customers", exportsSchema: namespace + "exports", signingKey: try Self.signingKey(signingKey))
        try await exporter.migrate()
        return exporter
    }

    static func signingKey(_ option: String?) throws -> SigningKey {
        if let file = option ?? ProcessInfo.processInfo.environment["LEVY_EXPORT_SIGNING_KEY_FILE"], !file.isEmpty {
            return try SigningKey.load(file: file)
        }
        let path = FileManager.default.currentDirectoryPath + "/.levy/dev-keys/export-signing.key"
        let (key, created) = try SigningKey.development(at: path)
        FileHandle.standardError.write(Data("""
            WARNING: exports are signed with a DEVELOPMENT Ed25519 key \(created ? "generated now " : "")at \(path) (key id \(key.keyID)).
            WARNING: in production set LEVY_EXPORT_SIGNING_KEY_FILE or --signing-key, and publish its key id to those who verify.

            """.utf8))
        return key
    }
}

/// Which signing keys an export must come from to verify.
struct ExportTrustOptions: ParsableArguments {
    @Option(name: .customLong("public-key"), help: "A trusted signer: its public key (base64), its key id, or a file holding either (repeatable).")
    var publicKeys: [String] = []

    /// The keys given, or else this installation's own signing key (LEVY_EXPORT_SIGNING_KEY_FILE or the development
    /// key, if it exists): the key the merchant's configuration pins. None at all is an error, not a pass.
    func trustedKeys() throws -> [String] {
        var keys: [String] = []
        for given in publicKeys {
            if FileManager.default.fileExists(atPath: given), let data = FileManager.default.contents(atPath: given) {
                keys.append(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            } else {
                keys.append(given)
            }
        }
        if !keys.isEmpty { return keys }
        let configured = ProcessInfo.processInfo.environment["LEVY_EXPORT_SIGNING_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.currentDirectoryPath + "/.levy/dev-keys/export-signing.key"
        guard FileManager.default.fileExists(atPath: configured) else {
            throw CLIError.input("no trusted signing key: pass --public-key (the merchant's published key or key id)")
        }
        let key = try SigningKey.load(file: configured)
        return [key.publicKeyBase64, key.keyID]
    }
}

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Audit exports: detail, liability, SAF-T; verify a signed export folder; validate XML against a schema.",
        subcommands: [Detail.self, Liability.self, SAFT.self, Verify.self, Validate.self])

    struct SAFT: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "saft",
            abstract: "An OECD SAF-T 2.0 (FAIA 2.01) audit file, validated against the schema before the manifest is signed.")
        @OptionGroup var options: ExportOptions
        @Option(help: "The FAIA 2.01 XSD (default LEVY_SAFT_SCHEMA, else Schemas/oecd-saft-2.00/FAIA_v_2.01_full.xsd); 'none' skips validation.")
        var schema: String?
        @Option(help: "The merchant's legal name (default: the merchant profile's).") var companyName: String?
        @Option(help: "Its registration number, a state sales tax permit or EIN (default: the profile's permit in its home state).")
        var companyRegistration: String?
        @Option(help: "Its address: \"street|city|ST|ZIP\" (default: the profile's).") var companyAddress: String?
        @Option(help: "A contact person: \"First Last\" (default: the profile's).") var companyContact: String?
        @Option(help: "The contact's telephone (default: the profile's).") var companyPhone: String?

        func validate() throws {
            try refuseCardNumbers(["--company-name": companyName, "--company-registration": companyRegistration,
                                   "--company-address": companyAddress, "--company-contact": companyContact, "--company-phone": companyPhone])
        }

        func run() async throws {
            // Each field from its option, else from the merchant profile (`levy merchant`); a field neither gives is named.
            let profile = try await options.database.profile(existing: true)
            func field(_ given: String?, _ fromProfile: String?, option: String, fix: String) throws -> String {
                if let given { return given }
                if let fromProfile, !fromProfile.isEmpty { return fromProfile }
                throw CLIError.input("\(option): not given, and the merchant profile has none (set it with `\(fix)`)")
            }
            let end = TaxDate(iso: options.to) ?? TaxDate(year: 9999, month: 12, day: 31)!
            let profileAddress = profile?.address.map { "\($0.line1)|\($0.city)|\($0.state.code)|\($0.zip)" }
            let companyName = try field(self.companyName, profile?.legalName, option: "--company-name", fix: "levy merchant update --name")
            let companyRegistration = try field(self.companyRegistration, profile?.permit(on: end), option: "--company-registration",
                                                fix: "levy merchant register --state ST --permit P --from DATE")
            let companyAddress = try field(self.companyAddress, profileAddress, option: "--company-address", fix: "levy merchant update --address")
            let companyContact = try field(self.companyContact, profile?.contactName, option: "--company-contact", fix: "levy merchant update --contact")
            let companyPhone = try field(self.companyPhone, profile?.phone, option: "--company-phone", fix: "levy merchant update --phone")
            let parts = companyAddress.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 4 else { throw CLIError.input("--company-address: \"street|city|ST|ZIP\"") }
            let names = companyContact.split(separator: " ", maxSplits: 1).map(String.init)
            guard names.count == 2 else { throw CLIError.input("--company-contact: \"First Last\"") }
            let company = CompanyInfo(name: companyName, registrationNumber: companyRegistration, street: parts[0], city: parts[1], state: parts[2],
                                      zip: parts[3], contactFirstName: names[0], contactLastName: names[1], telephone: companyPhone)
            guard let path = schema ?? TableLocation.saftSchema() else {
                throw CLIError.input("--schema: " + InstalledFiles.notFound(InstalledFiles.saftSchema) + " (or pass --schema FILE, or --schema none to skip validation)")
            }
            guard path == "none" || FileManager.default.isReadableFile(atPath: path) else {
                throw CLIError.input("--schema: cannot read \(path) (pass --schema FILE, or --schema none to skip validation)")
            }
            let manifest = try await options.exporter().saft(try options.request(), company: company, schema: path == "none" ? nil : path,
                                                             to: options.out, progress: ExportProgress(label: "saft"))
            report(manifest, options.out)
        }
    }

    struct Detail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One row per sale or refund line per jurisdiction (CSV, RFC 4180, or pipe-delimited).")
        @OptionGroup var options: ExportOptions
        @Option(help: "csv or pipe.") var format: String = "csv"

        func run() async throws {
            guard let format = DelimitedFormat(rawValue: format) else { throw CLIError.input("--format: csv or pipe") }
            let manifest = try await options.exporter().detail(try options.request(), format: format, to: options.out,
                                                               progress: ExportProgress(label: "detail"))
            report(manifest, options.out)
        }
    }

    struct Liability: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Liability per period, state and jurisdiction: gross, exempt by reason, taxable, tax collected, refunds, net due.")
        @OptionGroup var options: ExportOptions
        @Option(help: "month or quarter.") var period: String = "month"
        @Option(help: "csv or pipe.") var format: String = "csv"

        func run() async throws {
            guard let period = LiabilitySummary.Period(rawValue: period) else { throw CLIError.input("--period: month or quarter") }
            guard let format = DelimitedFormat(rawValue: format) else { throw CLIError.input("--format: csv or pipe") }
            let manifest = try await options.exporter().liability(try options.request(), period: period, format: format, to: options.out,
                                                                  progress: ExportProgress(label: "liability"))
            report(manifest, options.out)
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check an export folder's signature by a trusted key and every file's SHA-256; exit 1 if anything differs.")
        @Argument(help: "The export folder.") var directory: String
        @OptionGroup var trust: ExportTrustOptions

        func run() throws {
            let result = ManifestVerifier.verify(directory: directory, trusted: try trust.trustedKeys())
            for problem in result.problems { print("FAILED \(problem)") }
            guard result.intact, let manifest = result.manifest else { throw ExitCode(1) }
            print("verified: \(manifest.kind) \(manifest.period.from)..\(manifest.period.through), \(manifest.files.count) file(s), signed by trusted key \(result.keyID ?? "?")")
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate an XML file against an XML Schema (libxml2, streaming); exit 1 if invalid.")
        @Argument(help: "The XML file.") var file: String
        @Option(help: "The XSD file.") var schema: String

        func run() throws {
            let result = try SchemaValidator.validate(file: file, schema: schema)
            for problem in result.problems { print(problem) }
            guard result.total == 0 else {
                print("invalid: \(result.total) problem(s)")
                throw ExitCode(1)
            }
            print("valid: \(file) (\(result.elements) elements) against \(schema)")
        }
    }
}

func report(_ manifest: Manifest, _ directory: String) {
    for file in manifest.files { print("\(directory)/\(file.name): \(file.rows) rows, \(file.bytes) bytes, sha256 \(file.sha256)") }
    print("control totals: " + manifest.controlTotals.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    print("manifest: \(directory)/manifest.json, signed (manifest.sig); logged as \(manifest.disclosure ?? "-")"
          + (manifest.personalData ? " (a disclosure of personal data)" : ""))
}

struct DisclosuresCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "disclosures", abstract: "Exports that disclosed personal data.",
                                                    subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Who asked, when, why, the scope and the files; --all includes exports without personal data.")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Every export, not only disclosures.") var all = false

        func run() async throws {
            let store = try database.open(existing: true)
            let log = DisclosureLog(database: store, schema: try await database.merchantScope(store).namespace + "exports")
            try await log.migrate()
            for record in try await log.list(all: all) {
                print("\(record.id) \(record.at) \(record.kind) \(record.periodFrom)..\(record.periodThrough) personal_data=\(record.personalData) "
                      + "status=\(record.status) requested_by=\"\(record.requestedBy)\" reason=\"\(record.reason)\" files=\(record.files) dir=\(record.directory)")
            }
        }
    }
}

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Reports for accountants.", subcommands: [HTML.self])

    struct HTML: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "html",
            abstract: "A self-contained HTML report with charts (net tax by state, by month, top jurisdictions), signed like an export.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var replica: ReplicaOptions
        @Option(help: "First tax date (YYYY-MM-DD).") var from: String
        @Option(help: "Last tax date (YYYY-MM-DD), inclusive.") var to: String
        @Option(help: "A new or empty folder for report.html and its manifest.") var out: String
        @Option(help: "The merchant's name for the title (default: the merchant profile's legal name).") var merchantName: String?

        func validate() throws { try refuseCardNumbers(["--merchant-name": merchantName]) }
        @Option(help: "The Ed25519 signing key (as for exports).") var signingKey: String?

        func run() async throws {
            guard let start = TaxDate(iso: from), let end = TaxDate(iso: to) else { throw CLIError.input("--from/--to: dates as YYYY-MM-DD") }
            let (service, namespace) = try await database.merchantOrders(existing: true)
            let reading = try await replica.readService(primary: service)
            let exporter = Exporter(database: service.database, reader: reading.reader, ordersSchema: service.schema, customersSchema: namespace + "customers",
                                    exportsSchema: namespace + "exports", signingKey: try ExportOptions.signingKey(signingKey))
            try await exporter.migrate()
            var title = merchantName ?? "Merchant"
            if merchantName == nil, let profile = try await database.profile(existing: true) { title = profile.legalName }
            let manifest = try await exporter.htmlReport(from: start, through: end, merchant: title, to: out, progress: ExportProgress(label: "report"))
            report(manifest, out)
        }
    }
}
