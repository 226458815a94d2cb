import BoxofficeKit
import Foundation

/// The page's language: Korean or English, from `?lang=`, then the `bo_lang` cookie the switch
/// sets, then `Accept-Language`; Korean when nothing says otherwise.
public enum PageLanguage: String, Sendable, CaseIterable {
    case ko
    case en

    static let cookieName = "bo_lang"

    static func choose(query: String?, cookie: String?, acceptLanguage: String?) -> PageLanguage {
        if let query, let language = PageLanguage(rawValue: query) { return language }
        if let cookie, let language = PageLanguage(rawValue: cookie) { return language }
        // The first listed language we have, ignoring quality weights (browsers list by preference).
        for part in (acceptLanguage ?? "").split(separator: ",") {
            let tag = part.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            if tag.hasPrefix("ko") { return .ko }
            if tag.hasPrefix("en") { return .en }
        }
        return .ko
    }

    var other: PageLanguage { self == .ko ? .en : .ko }

    /// Venues are in Korea; their local time is what a ticket says.
    static let venueTimeZone = TimeZone(identifier: "Asia/Seoul") ?? .gmt

    /// 110,000원 / ₩110,000.
    func money(_ money: Money) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        formatter.usesGroupingSeparator = true
        let digits = formatter.string(from: NSNumber(value: money.amount)) ?? String(money.amount)
        guard money.currency == .krw else { return "\(digits) \(money.currency.rawValue)" }
        return self == .ko ? "\(digits)원" : "₩\(digits)"
    }

    /// 2026년 12월 24일 (목) 19:00 / Thu, Dec 24, 2026, 19:00 — in the venue's time zone.
    func dateTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.timeZone = Self.venueTimeZone
        formatter.locale = Locale(identifier: self == .ko ? "ko_KR" : "en_US_POSIX")
        formatter.dateFormat = self == .ko ? "yyyy년 M월 d일 (E) HH:mm" : "EEE, MMM d, yyyy, HH:mm"
        return formatter.string(from: date)
    }

    /// The words of the pages.
    func text(_ key: PageText) -> String {
        switch self {
        case .ko: key.korean
        case .en: key.english
        }
    }
}

enum PageText: CaseIterable {
    case siteName, tagline, search, searchPlaceholder, category, anyCategory, from, to, find, onSaleNow, opensAt, soldOut
    case noEvents, performances, priceAndLeft, left, salesClosed, cancelled, venue, back
    case notFoundTitle, notFoundBody, home, switchLanguage, concert, musical, theatre, sports, exhibition
    case signIn, signUp, signOut, email, password, rememberMe, orWith, noAccount, haveAccount, name, passwordHint, checking, checked
    case pickSeats, seatsSelected, noSeatsSelected, perOrderLimit, seatTaken, seatsHeld, holdExpired, ticketsPaid, signInToBuy
    case seatAvailable, seatUnavailable, section, row, seat, queueFirst, somethingWrong, legend, zoomIn, zoomOut, keyboardHint
    case seatMap, loadingMap, holdSeats, holdEndsIn, payFromWallet, payByCard, releaseSeats
    case admissionTiers, howMany, holdTickets, chooseTier, notThatManyLeft, oneFewer, oneMore, perOrderTickets, pickTickets
    case wallet, balance, ledger, loadingHistory, noEntries, topUp, grant, purchase, refund, waitingRoom, queueWaiting, queueAdmitted, queueExpired, queueClosed, minutesLeft, almostThere, joiningQueue, position, ahead, waitLeft, keepPageOpen, myTickets, loadingTickets, noTickets, offlineTickets, signInFirst, door, gate, gatePlaceholder, ticketCode, checkTicket, useCamera, valid, alreadyUsed, invalid, firstUsedAt, staffOnly, noCamera

    var korean: String {
        switch self {
        case .siteName: "박스오피스"
        case .tagline: "공정한 대기열, 한 번에 끝나는 예매"
        case .search: "공연 찾기"
        case .searchPlaceholder: "공연명, 아티스트"
        case .category: "장르"
        case .anyCategory: "전체"
        case .from: "시작일"
        case .to: "종료일"
        case .find: "검색"
        case .onSaleNow: "예매 중"
        case .opensAt: "예매 오픈"
        case .soldOut: "매진"
        case .noEvents: "조건에 맞는 공연이 없습니다."
        case .performances: "회차"
        case .priceAndLeft: "등급별 가격과 남은 좌석"
        case .left: "남음"
        case .salesClosed: "예매 종료"
        case .cancelled: "취소된 회차"
        case .venue: "공연장"
        case .back: "목록으로"
        case .notFoundTitle: "페이지를 찾을 수 없습니다"
        case .notFoundBody: "주소가 바뀌었거나 없는 페이지입니다."
        case .home: "처음으로"
        case .switchLanguage: "English"
        case .concert: "콘서트"
        case .musical: "뮤지컬"
        case .theatre: "연극"
        case .sports: "스포츠"
        case .exhibition: "전시"
        case .signIn: "로그인"
        case .signUp: "회원가입"
        case .signOut: "로그아웃"
        case .email: "이메일"
        case .password: "비밀번호"
        case .rememberMe: "로그인 상태 유지"
        case .orWith: "다른 계정으로 로그인"
        case .noAccount: "처음이신가요?"
        case .haveAccount: "이미 계정이 있으신가요?"
        case .name: "이름"
        case .passwordHint: "10자 이상, 이메일과 다르게 정해 주세요."
        case .checking: "자동 가입 방지 확인 중…"
        case .checked: "확인 완료"
        case .pickSeats: "좌석 선택"
        case .seatsSelected: "선택한 좌석:"
        case .noSeatsSelected: "지도에서 좌석을 골라 주세요."
        case .perOrderLimit: "한 번에 {max}석까지 고를 수 있습니다."
        case .seatTaken: "방금 다른 분이 선택한 좌석입니다. 다른 좌석을 골라 주세요."
        case .seatsHeld: "좌석을 잡아 두었습니다:"
        case .holdExpired: "선점 시간이 끝나 좌석이 풀렸습니다. 다시 골라 주세요."
        case .ticketsPaid: "결제 완료! 티켓 {count}장:"
        case .signInToBuy: "예매하려면 로그인해 주세요."
        case .seatAvailable: "선택 가능"
        case .seatUnavailable: "선택 불가"
        case .section: "구역"
        case .row: "열"
        case .seat: "번"
        case .queueFirst: "이 회차는 대기열을 거쳐 예매합니다."
        case .somethingWrong: "잠시 후 다시 시도해 주세요."
        case .legend: "등급과 가격"
        case .zoomIn: "확대"
        case .zoomOut: "축소"
        case .keyboardHint: "방향키로 이동, Enter로 선택"
        case .seatMap: "좌석 배치도"
        case .loadingMap: "좌석 배치도를 불러오는 중…"
        case .holdSeats: "좌석 잡기"
        case .admissionTiers: "스탠딩 입장권"
        case .howMany: "매수"
        case .holdTickets: "티켓 잡기"
        case .chooseTier: "등급과 매수를 골라 주세요."
        case .notThatManyLeft: "남은 수량이 그보다 적습니다."
        case .oneFewer: "한 장 빼기"
        case .oneMore: "한 장 더"
        case .perOrderTickets: "한 번에 {max}매까지"
        case .pickTickets: "티켓 고르기"
        case .holdEndsIn: "남은 시간"
        case .payFromWallet: "포인트로 결제"
        case .payByCard: "카드로 결제"
        case .releaseSeats: "좌석 놓기"
        case .wallet: "포인트 지갑"
        case .balance: "잔액"
        case .ledger: "이용 내역"
        case .loadingHistory: "내역을 불러오는 중…"
        case .noEntries: "아직 내역이 없습니다."
        case .topUp: "충전"
        case .grant: "지급"
        case .purchase: "구매"
        case .refund: "환불"
        case .waitingRoom: "대기열"
        case .queueWaiting: "순서를 기다리는 중입니다. 이 페이지를 닫아도 자리는 유지됩니다."
        case .queueAdmitted: "차례가 되었습니다! 좌석 선택으로 이동합니다."
        case .queueExpired: "입장 시간이 지났습니다. 다시 줄을 서 주세요."
        case .queueClosed: "대기열이 닫혔습니다."
        case .minutesLeft: "약 {n}분"
        case .almostThere: "곧 입장"
        case .joiningQueue: "대기열에 들어가는 중…"
        case .position: "내 순번"
        case .ahead: "앞사람"
        case .waitLeft: "예상 대기"
        case .keepPageOpen: "새로고침하거나 다른 탭에서 열어도 같은 자리입니다."
        case .myTickets: "내 티켓"
        case .loadingTickets: "티켓을 불러오는 중…"
        case .noTickets: "아직 티켓이 없습니다."
        case .offlineTickets: "오프라인입니다. 마지막으로 받은 티켓을 보여 드립니다."
        case .signInFirst: "먼저 로그인해 주세요."
        case .door: "입장 확인"
        case .gate: "게이트"
        case .gatePlaceholder: "예: A"
        case .ticketCode: "티켓 코드"
        case .checkTicket: "확인"
        case .useCamera: "카메라로 읽기"
        case .valid: "입장 가능"
        case .alreadyUsed: "이미 사용됨"
        case .invalid: "무효 티켓"
        case .firstUsedAt: "처음 사용:"
        case .staffOnly: "이 공연의 입장 확인 권한이 없습니다."
        case .noCamera: "카메라를 쓸 수 없습니다. 코드를 입력해 주세요."
        }
    }

    var english: String {
        switch self {
        case .siteName: "Boxoffice"
        case .tagline: "A fair queue, then tickets in one go"
        case .search: "Find a show"
        case .searchPlaceholder: "Show or artist"
        case .category: "Category"
        case .anyCategory: "All"
        case .from: "From"
        case .to: "To"
        case .find: "Search"
        case .onSaleNow: "On sale"
        case .opensAt: "On sale from"
        case .soldOut: "Sold out"
        case .noEvents: "No shows match."
        case .performances: "Performances"
        case .priceAndLeft: "Prices and seats left per tier"
        case .left: "left"
        case .salesClosed: "Sales closed"
        case .cancelled: "Cancelled"
        case .venue: "Venue"
        case .back: "All shows"
        case .notFoundTitle: "Page not found"
        case .notFoundBody: "The address changed, or there never was such a page."
        case .home: "Home"
        case .switchLanguage: "한국어"
        case .concert: "Concert"
        case .musical: "Musical"
        case .theatre: "Theatre"
        case .sports: "Sports"
        case .exhibition: "Exhibition"
        case .signIn: "Sign in"
        case .signUp: "Sign up"
        case .signOut: "Sign out"
        case .email: "Email"
        case .password: "Password"
        case .rememberMe: "Keep me signed in"
        case .orWith: "Or sign in with"
        case .noAccount: "New here?"
        case .haveAccount: "Already have an account?"
        case .name: "Name"
        case .passwordHint: "At least 10 characters, not your email address."
        case .checking: "Checking you are not a bot…"
        case .checked: "Checked"
        case .pickSeats: "Choose seats"
        case .seatsSelected: "Selected:"
        case .noSeatsSelected: "Pick seats on the map."
        case .perOrderLimit: "You can pick up to {max} seats at a time."
        case .seatTaken: "Someone took that seat a moment ago; pick another."
        case .seatsHeld: "Held for you:"
        case .holdExpired: "Your hold ran out and the seats were released; pick again."
        case .ticketsPaid: "Paid! {count} tickets:"
        case .signInToBuy: "Sign in to buy."
        case .seatAvailable: "available"
        case .seatUnavailable: "unavailable"
        case .section: "Section"
        case .row: "row"
        case .seat: "seat"
        case .queueFirst: "This performance sells through a waiting room."
        case .somethingWrong: "Try again in a moment."
        case .legend: "Tiers and prices"
        case .zoomIn: "Zoom in"
        case .zoomOut: "Zoom out"
        case .keyboardHint: "Arrow keys move, Enter picks"
        case .seatMap: "Seat map"
        case .loadingMap: "Loading the seat map…"
        case .holdSeats: "Hold these seats"
        case .admissionTiers: "Standing tickets"
        case .howMany: "How many"
        case .holdTickets: "Hold these tickets"
        case .chooseTier: "Choose a tier and how many."
        case .notThatManyLeft: "Fewer than that are left."
        case .oneFewer: "One fewer"
        case .oneMore: "One more"
        case .perOrderTickets: "Up to {max} at a time"
        case .pickTickets: "Choose tickets"
        case .holdEndsIn: "Time left"
        case .payFromWallet: "Pay with points"
        case .payByCard: "Pay by card"
        case .releaseSeats: "Let them go"
        case .wallet: "Wallet"
        case .balance: "Balance"
        case .ledger: "History"
        case .loadingHistory: "Loading the history…"
        case .noEntries: "Nothing yet."
        case .topUp: "Top-up"
        case .grant: "Grant"
        case .purchase: "Purchase"
        case .refund: "Refund"
        case .waitingRoom: "Waiting room"
        case .queueWaiting: "Waiting for your turn. Your place is kept if you close this page."
        case .queueAdmitted: "It's your turn! Taking you to the seats."
        case .queueExpired: "Your turn has passed; join the queue again."
        case .queueClosed: "The queue is closed."
        case .minutesLeft: "about {n} min"
        case .almostThere: "any moment"
        case .joiningQueue: "Joining the queue…"
        case .position: "Your place"
        case .ahead: "Ahead of you"
        case .waitLeft: "Expected wait"
        case .keepPageOpen: "Reloading or opening another tab keeps the same place."
        case .myTickets: "My tickets"
        case .loadingTickets: "Loading your tickets…"
        case .noTickets: "No tickets yet."
        case .offlineTickets: "You are offline; these are the tickets last loaded."
        case .signInFirst: "Sign in first."
        case .door: "Door check"
        case .gate: "Gate"
        case .gatePlaceholder: "e.g. A"
        case .ticketCode: "Ticket code"
        case .checkTicket: "Check"
        case .useCamera: "Read with the camera"
        case .valid: "VALID"
        case .alreadyUsed: "ALREADY USED"
        case .invalid: "INVALID"
        case .firstUsedAt: "First used"
        case .staffOnly: "You are not door staff for this performance."
        case .noCamera: "The camera is not available; type the code."
        }
    }
}
