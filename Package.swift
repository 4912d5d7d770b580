// swift-tools-version: 6.2
import PackageDescription

// Every target gets the same strict settings: Swift 6 language mode (complete concurrency
// checking), existential `any` spelled out, and warnings treated as errors.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .treatAllWarnings(as: .error),
]

// The engine, the table reader and the vault are optimized in debug builds too: unoptimized, reading the shipped
// tables takes about 12 s (generic CSV and decimal code left unspecialized), and every `levy` the tests and CI start
// reads them; the card-data scan after the tests reads a gigabyte of their files and PostgreSQL's.
let optimizedInDebug: [SwiftSetting] = strict + [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "Levy",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "levy", targets: ["levy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // Pure tax engine: money, rates, jurisdictions, sourcing, taxability, rounding. No I/O.
        .target(name: "TaxCore", swiftSettings: optimizedInDebug),
        // Reads, validates and converts table data into the engine's in-memory tables.
        .target(
            name: "TaxTables",
            dependencies: ["TaxCore", "JSONInput", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: optimizedInDebug
        ),
        // The system SQLite library (libsqlite3-dev), wrapped by Storage.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // SQL storage: SQLite (the embedded default) and PostgreSQL behind one protocol, numbered migrations.
        .target(
            name: "Storage",
            dependencies: ["CSQLite", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // The card vault: validation, tokenization, key hierarchy, reveal audit, the payment processor boundary.
        .target(
            name: "Vault",
            dependencies: ["TaxCore", "Storage", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: optimizedInDebug
        ),
        // Card processors behind the vault's PaymentProcessor boundary: Stripe over its REST API (a small NIO client).
        .target(
            name: "Processors",
            dependencies: [
                "TaxCore", "Storage", "Vault",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        // Orders: placement exactly once, payment through the vault's gateway, the hash-chained tax ledger, refunds.
        .target(
            name: "Orders",
            dependencies: ["TaxCore", "Storage", "Vault", "JSONInput", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // Merchant profiles: the legal entity, its dated registrations and its locations.
        .target(name: "Merchants", dependencies: ["TaxCore", "Storage", "JSONInput"], swiftSettings: strict),
        // I-JSON (RFC 7493) and size limits every request body passes before a decoder reads it.
        .target(name: "JSONInput", swiftSettings: strict),
        // The JSON quote contract (`levy quote` today, the HTTP API later): decoding, validation, encoding.
        .target(name: "QuoteContract", dependencies: ["TaxCore", "JSONInput"], swiftSettings: strict),
        // The system libxml2 (libxml2-dev), for validating audit files against their XML Schema while streaming.
        .systemLibrary(name: "CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        // Audit exports and accountant reports: detail, liability, SAF-T, signed manifests, disclosures, HTML report.
        .target(
            name: "Exports",
            dependencies: ["TaxCore", "Storage", "Orders", "CLibXML2", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // Batch reconciliation (orders, payments, settlement files, ledger, recomputed tax) and economic-nexus tracking.
        .target(
            name: "Reconciliation",
            dependencies: ["TaxCore", "TaxTables", "Storage", "Orders", "Exports", "JSONInput", .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // The HTTP API: Hummingbird routes, API keys and scopes, idempotency, metrics, structured logs.
        .target(
            name: "Server",
            dependencies: [
                "TaxCore", "TaxTables", "QuoteContract", "JSONInput", "Storage", "Vault", "Processors", "Orders", "Merchants", "Exports", "Reconciliation",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["openapi.yaml"],
            swiftSettings: strict
        ),
        // Benchmark harnesses and demo data run by `levy bench` and `levy demo`; kept out of the test targets.
        .target(name: "LevyBenchmarks", dependencies: ["TaxCore", "TaxTables", "QuoteContract", "Vault", "Storage", "Orders", "Reconciliation"],
                swiftSettings: strict),
        .executableTarget(
            name: "levy",
            dependencies: [
                "TaxCore", "TaxTables", "QuoteContract", "LevyBenchmarks", "Vault", "Processors", "Storage", "Orders", "Merchants", "Server", "Exports",
                "Reconciliation", "JSONInput", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "TaxCoreTests", dependencies: ["TaxCore"], swiftSettings: strict),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "LevyTestSupport", .product(name: "_ConnectionPoolModule", package: "postgres-nio")], swiftSettings: strict),
        .testTarget(name: "JSONInputTests", dependencies: ["JSONInput"], swiftSettings: strict),
        .testTarget(name: "TaxTablesTests", dependencies: ["TaxTables", "TaxCore"], swiftSettings: strict),
        .testTarget(name: "QuoteContractTests", dependencies: ["QuoteContract", "TaxTables", "TaxCore", "LevyTestSupport"], swiftSettings: strict),
        .testTarget(name: "LevyCLITests", dependencies: ["levy", "Orders", "Storage", "TaxTables", "Vault"], swiftSettings: strict),
        .testTarget(name: "VaultTests", dependencies: ["Vault", "Storage", "TaxCore", "LevyTestSupport"], swiftSettings: strict),
        // What every test target shares: the stores a store test runs on, temporary places, a CSV reader.
        .target(name: "LevyTestSupport", dependencies: ["Storage"], path: "Tests/LevyTestSupport", swiftSettings: strict),
        .testTarget(name: "MerchantsTests", dependencies: ["Merchants", "Storage", "TaxCore", "LevyTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "Exports", "Reconciliation", "Orders", "Merchants", "Vault", "Processors", "Storage", "TaxCore", "TaxTables", "LevyTestSupport",
                "LevyBenchmarks",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "ExportsTests", dependencies: ["Exports", "Orders", "Storage", "TaxCore", "TaxTables", "LevyBenchmarks", "Vault", "LevyTestSupport",
                                                     .product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        .testTarget(name: "ReconciliationTests", dependencies: ["Reconciliation", "Orders", "Storage", "TaxCore", "TaxTables", "LevyBenchmarks", "Vault", "LevyTestSupport"],
                    swiftSettings: strict),
        .testTarget(name: "OrdersTests", dependencies: ["Orders", "Vault", "Processors", "Storage", "TaxCore", "TaxTables", "LevyTestSupport", .product(name: "NIOHTTP1", package: "swift-nio")],
                   swiftSettings: strict),
        .testTarget(
            name: "ProcessorsTests",
            dependencies: [
                "Processors", "Vault", "TaxCore",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
    ]
)
