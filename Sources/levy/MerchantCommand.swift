import ArgumentParser
import Foundation
import Merchants
import Orders
import TaxCore

/// `levy merchant`: the merchant profile quotes, orders, exports and the nexus report use.
struct MerchantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merchant",
        abstract: "The merchant profile: legal name, contact, address, dated registrations, locations.",
        subcommands: [Create.self, List.self, Show.self, Update.self, Register.self, EndRegistration.self, AddLocation.self])

    /// The profile store on the order database, migrated.
    static func service(_ options: DatabaseOptions, existing: Bool = false) async throws -> MerchantService {
        let service = MerchantService(database: try options.open(existing: existing))
        try await service.migrate()
        return service
    }

    /// The named merchant (the argument, else `--merchant`), else the home merchant.
    static func merchant(_ id: String?, _ options: DatabaseOptions, in service: MerchantService) async throws -> Merchant {
        if let id = id ?? options.merchant { return try await service.merchant(MerchantID(id)) }
        guard let first = try await service.first() else { throw MerchantError.none }
        return first
    }

    /// Profile fields as options, shared by create and update.
    struct ProfileOptions: ParsableArguments {
        @Option(help: "A contact person: \"First Last\".") var contact: String?
        @Option(help: "An email address for tax matters.") var email: String?
        @Option(help: "A telephone number.") var phone: String?
        @Option(help: "The registered address: \"street|city|ST|ZIP\".") var address: String?
        @Option(help: "sst, line_jurisdiction or invoice_combined.") var rounding: String?

        func changes(name: String? = nil) throws -> MerchantChanges {
            var rounding: RoundingMode?
            if let text = self.rounding {
                guard let mode = RoundingMode(rawValue: text) else { throw CLIError.input("--rounding: sst, line_jurisdiction or invoice_combined") }
                rounding = mode
            }
            let address = try address.map { try MerchantCommand.address($0, option: "--address") }
            // The legal address heads tax files (SAF-T): checked against the tables quotes use, as the API checks it.
            if let address { try MerchantCommand.checkKnown(address, option: "--address", tables: try TableLocation.load(nil, store: nil, version: nil)) }
            return MerchantChanges(legalName: name, contactName: contact, email: email, phone: phone, address: address, rounding: rounding)
        }
    }

    static func address(_ text: String, option: String) throws -> Address {
        let parts = text.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, let state = StateCode(parts[2].uppercased()), let zip = ZipCode(parts[3]) else {
            throw CLIError.input("\(option): \"street|city|ST|ZIP\" with a two-letter state and a ZIP")
        }
        return Address(line1: parts[0], city: parts[1], state: state, zip: zip)
    }

    /// Refuses an address whose ZIP the tables do not know, or that lies in another state, as the API does
    /// (probe #13: the CLI kept a place of business no quote could be sourced to).
    static func checkKnown(_ address: Address, option: String, tables: TaxTableSet) throws {
        if let problem = tables.locals.placeProblem(address, on: CustomerService.today(Date())) { throw CLIError.input("\(option): \(problem.message)") }
    }

    static func date(_ text: String, option: String) throws -> TaxDate {
        guard let date = TaxDate(iso: text) else { throw CLIError.input("\(option): \"\(text)\" is not a date (YYYY-MM-DD)") }
        return date
    }

    static func state(_ text: String) throws -> StateCode {
        guard let state = StateCode(text.uppercased()) else { throw CLIError.input("--state: \"\(text)\" is not a two-letter state code") }
        return state
    }

    /// The profile as shown: one field per line, registrations and locations after.
    static func show(_ merchant: Merchant) {
        var lines = ["id: \(merchant.id)", "name: \(merchant.legalName)"]
        if let contact = merchant.contactName { lines.append("contact: \(contact)") }
        if let email = merchant.email { lines.append("email: \(email)") }
        if let phone = merchant.phone { lines.append("phone: \(phone)") }
        if let address = merchant.address {
            lines.append("address: \(address.line1), \(address.city), \(address.state.code) \(address.zip)")
        }
        lines.append("rounding: \(merchant.rounding.rawValue)")
        for registration in merchant.registrations {
            lines.append("registration: \(registration.state.code) permit \(registration.permit) from \(registration.from.iso)"
                         + (registration.through.map { " through \($0.iso)" } ?? "") + (registration.election.map { " electing \($0)" } ?? ""))
        }
        for location in merchant.locations {
            let address = location.address
            lines.append("location: \(location.id) \"\(location.name)\" \(address.line1), \(address.city), \(address.state.code) \(address.zip)"
                         + (location.placeOfBusiness ? " (place of business)" : "")
                         + (location.jurisdictions.isEmpty ? "" : " pinned: " + location.jurisdictions.joined(separator: " ")))
        }
        print(lines.joined(separator: "\n"))
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a merchant; prints its id alone on standard output.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The legal name.") var name: String
        @OptionGroup var profile: ProfileOptions

        func run() async throws {
            let merchant = try await MerchantCommand.service(database).create(legalName: name, changes: try profile.changes())
            print(merchant.id)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List merchants: id and legal name, oldest first.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            for merchant in try await MerchantCommand.service(database, existing: true).list() { print("\(merchant.id)\t\(merchant.legalName)") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a merchant's profile (default: the first merchant).")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The merchant's id.") var id: String?

        func run() async throws {
            MerchantCommand.show(try await MerchantCommand.merchant(id, database, in: try await MerchantCommand.service(database, existing: true)))
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change profile fields; those not given stay as they are.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The merchant's id (default: the first merchant).") var id: String?
        @Option(help: "The legal name.") var name: String?
        @OptionGroup var profile: ProfileOptions

        func run() async throws {
            let service = try await MerchantCommand.service(database)
            let merchant = try await MerchantCommand.merchant(id, database, in: service)
            MerchantCommand.show(try await service.update(merchant.id, try profile.changes(name: name)))
        }
    }

    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a registration to collect a state's tax: quotes on and after --from collect there, earlier ones do not.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The merchant's id (default: the first merchant).") var id: String?
        @Option(help: "The state (two letters).") var state: String
        @Option(help: "The permit or registration number.") var permit: String
        @Option(help: "The first day it covers (YYYY-MM-DD).") var from: String
        @Option(help: "The last day it covers, if it has ended.") var through: String?
        @Option(help: "The remote-seller program it elects (single_local_use_tax in TX, simplified_sellers_use_tax in AL): quotes to the state use it.")
        var election: String?
        @Option(help: "The versioned table store the election is checked against (default: LEVY_STORE or .levy/tables).") var store: String?

        func run() async throws {
            let registration = Registration(state: try MerchantCommand.state(state), permit: permit, from: try MerchantCommand.date(from, option: "--from"),
                                            through: try through.map { try MerchantCommand.date($0, option: "--through") }, election: election)
            if let election {
                guard RemoteSellerElection.isValidType(election) else {
                    throw ValidationError("--election: " + RemoteSellerElection.typeRule)
                }
                // Checked against the tables quotes use: an election they do not have would fail every quote there.
                let tables = try TableLocation.load(nil, store: store, version: nil)
                if let problem = tables.electionProblem(registration.state, election, from: registration.from) {
                    throw ValidationError("--election: \(problem)")
                }
            }
            let service = try await MerchantCommand.service(database)
            let merchant = try await MerchantCommand.merchant(id, database, in: service)
            MerchantCommand.show(try await service.register(merchant.id, registration))
        }
    }

    struct EndRegistration: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "end-registration",
                                                        abstract: "End the registration in force in a state: its last day is --on.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The merchant's id (default: the first merchant).") var id: String?
        @Option(help: "The state (two letters).") var state: String
        @Option(help: "The last day it covers (YYYY-MM-DD).") var on: String

        func run() async throws {
            let service = try await MerchantCommand.service(database)
            let merchant = try await MerchantCommand.merchant(id, database, in: service)
            MerchantCommand.show(try await service.endRegistration(merchant.id, state: try MerchantCommand.state(state),
                                                                   on: try MerchantCommand.date(on, option: "--on")))
        }
    }

    struct AddLocation: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-location", abstract: "Add a location (a spa, a warehouse).")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The merchant's id (default: the first merchant).") var id: String?
        @Option(name: .customLong("location"), help: "The location's short id (lower-case letters, digits, - and _).") var location: String
        @Option(help: "Its name.") var name: String
        @Option(help: "Its address: \"street|city|ST|ZIP\".") var address: String
        @Flag(help: "Not a place of business (origin sourcing never puts a sale there).") var notPlaceOfBusiness = false
        @Option(name: .customLong("jurisdiction"),
                help: "A local jurisdiction code verified for these premises (repeat for each; lines sourced here are taxed by exactly these).")
        var jurisdictions: [String] = []
        @Option(help: "The versioned table store the address and codes are checked against (default: LEVY_STORE or .levy/tables).") var store: String?

        func run() async throws {
            let place = Location(id: location, name: name, address: try MerchantCommand.address(address, option: "--address"),
                                 placeOfBusiness: !notPlaceOfBusiness, jurisdictions: jurisdictions)
            // Checked against the tables quotes use today: a ZIP they do not know, or a code they cannot rate, would
            // fail every quote there.
            let tables = try TableLocation.load(nil, store: store, version: nil)
            try MerchantCommand.checkKnown(place.address, option: "--address", tables: tables)
            if !jurisdictions.isEmpty {
                let today = CustomerService.today(Date())
                if let i = tables.locals.firstUnrated(jurisdictions, state: place.address.state, on: today) {
                    throw ValidationError("--jurisdiction: \(jurisdictions[i]) is no local jurisdiction of \(place.address.state) in the tables on \(today)")
                }
            }
            let service = try await MerchantCommand.service(database)
            let merchant = try await MerchantCommand.merchant(id, database, in: service)
            MerchantCommand.show(try await service.addLocation(merchant.id, place))
        }
    }
}
