/// Levy's product tax codes. The raw values are the stable names used in the quote contract and the tables;
/// docs/product-tax-codes.md maps each to the nearest Avalara, TaxJar and Stripe codes.
public enum ProductTaxCode: String, Sendable, CaseIterable, Hashable {
    /// Tangible personal property with no more specific code.
    case general
    /// Clothing and footwear for everyday wear (thresholds and holidays apply to it).
    case clothing
    /// Delivery charges separately stated on the invoice.
    case shipping
    /// In-person cosmetic and personal-care services: facials, skin care, laser, non-medical injectables.
    case personalCareService = "personal_care_service"
    /// Massage by a non-medical provider, taxed apart from other personal care in several states.
    case massageService = "massage_service"
    /// Professional and medical services (consultations, treatments by licensed practitioners).
    case professionalService = "professional_service"
    /// Gift cards and vouchers sold for value: not taxable at sale, taxed at redemption as what they buy.
    case giftCard = "gift_card"
    /// Digital audio-visual works streamed for a limited time (rental, pay-per-view).
    case digitalVideoStream = "digital_video_stream"
    /// Digital audio-visual works downloaded with a permanent right of use.
    case digitalVideoDownload = "digital_video_download"
    /// A subscription to a catalogue of digital audio-visual works.
    case digitalSubscription = "digital_subscription"
    /// Admission to an event, class or amusement.
    case admission
    /// A voluntary gratuity (tip) the buyer adds for the person who performed a service, paid over to them: not
    /// part of the sales price in most states (the tables say, state by state). A charge the seller imposes is not
    /// a gratuity: quote it as the service.
    case gratuity

    /// A dense index in 0..<allCases.count, for array-indexed tables.
    public var ordinal: Int {
        switch self {
        case .general: 0
        case .clothing: 1
        case .shipping: 2
        case .personalCareService: 3
        case .massageService: 4
        case .professionalService: 5
        case .giftCard: 6
        case .digitalVideoStream: 7
        case .digitalVideoDownload: 8
        case .digitalSubscription: 9
        case .admission: 10
        case .gratuity: 11
        }
    }

    /// A specified digital product in the SSUTA sense (Tennessee's single-article cap does not apply to them).
    public var isDigital: Bool {
        switch self {
        case .digitalVideoStream, .digitalVideoDownload, .digitalSubscription: true
        default: false
        }
    }

    /// A service performed by people rather than a thing sold.
    public var isService: Bool {
        switch self {
        case .personalCareService, .massageService, .professionalService, .admission: true
        default: false
        }
    }
}

/// How a line reaches the buyer; it decides the SSUTA 310 sourcing rule.
public enum Fulfilment: String, Sendable, CaseIterable, Hashable {
    /// Delivered to the buyer's address.
    case shipped
    /// Collected by the buyer at a seller location.
    case pickup
    /// A service performed at a seller location (a treatment at the spa).
    case inPerson = "in_person"
    /// Digital content streamed to the buyer.
    case stream
    /// Digital content downloaded by the buyer.
    case download

    /// True when the buyer receives the line at a seller location (SSUTA 310.A.1).
    public var receivedAtSellerLocation: Bool { self == .pickup || self == .inPerson }
}

/// The SSUTA 310 reasons for choosing an address, plus the origin rule of origin-based states.
public enum SourcingRule: String, Sendable, CaseIterable, Hashable {
    /// 310.A.1: received by the buyer at a business location of the seller.
    case sellerLocation = "310.A.1_seller_location"
    /// 310.A.2: where the buyer (or its donee) receives the product: the delivery address.
    case deliveryAddress = "310.A.2_delivery_address"
    /// 310.A.3: the buyer's address in the seller's records (the billing address).
    case billingAddress = "310.A.3_billing_address"
    /// 310.A.4: an address obtained during the sale, such as the payment instrument's.
    case paymentAddress = "310.A.4_payment_address"
    /// 310.A.5: the address from which the product was shipped or first made available (the origin).
    case originAddress = "310.A.5_origin_address"
    /// An intrastate sale in a state that sources intrastate sales to the seller's location.
    case intrastateOrigin = "intrastate_origin"
    /// An intrastate sale in a state that sources some levels to the origin and others to the destination.
    case intrastateHybrid = "intrastate_hybrid"
    /// An intrastate sale in a state that charges the origin's local taxes, then the destination's up to a cap.
    case intrastateOriginCapped = "intrastate_origin_capped"
    /// An intrastate sale of a product the state sources to the seller's business location whatever the
    /// fulfilment (New Mexico's professional services).
    case sellerBusinessLocation = "seller_business_location"

    public var explanation: String {
        switch self {
        case .sellerLocation: "SSUTA 310.A.1: received at a seller location"
        case .deliveryAddress: "SSUTA 310.A.2: where the buyer receives the product"
        case .billingAddress: "SSUTA 310.A.3: buyer's address in the seller's records"
        case .paymentAddress: "SSUTA 310.A.4: address obtained during the sale (the payment instrument's)"
        case .originAddress: "SSUTA 310.A.5: address the product was sent or made available from"
        case .intrastateOrigin: "origin-based state: intrastate sale sourced to the seller's location"
        case .intrastateHybrid: "hybrid state: state and local levels from the origin, districts from the destination"
        case .intrastateOriginCapped: "origin's local taxes, then the destination's local use taxes up to the state's local cap"
        case .sellerBusinessLocation: "the state sources this product to the seller's business location (states.csv seller_sourced_codes)"
        }
    }
}
