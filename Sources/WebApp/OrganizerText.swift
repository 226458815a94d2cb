import Foundation

/// The words of the organizer's pages, in both languages. The page scripts get them as one
/// JSON block (`<script type="application/json">`, never executed), so there is one list.
enum OrganizerText {
    static let words: [String: (ko: String, en: String)] = [
        "desk": ("주최자 콘솔", "Organizer desk"),
        "myEvents": ("내 공연", "My events"),
        "noEvents": ("아직 공연이 없습니다. 아래에서 공연장과 공연을 만드세요.", "No events yet: make a venue and an event below."),
        "draft": ("초안", "Draft"), "published": ("공개", "Published"), "cancelled": ("취소됨", "Cancelled"),
        "scheduled": ("예정", "Scheduled"),
        "publish": ("공개하기", "Publish"), "cancelEvent": ("공연 취소", "Cancel event"),
        "cancelPerformance": ("회차 취소", "Cancel performance"), "sales": ("판매 현황", "Sales"),
        "venues": ("공연장", "Venues"), "newVenue": ("새 공연장", "New venue"), "venueName": ("이름", "Name"),
        "address": ("주소", "Address"), "create": ("만들기", "Create"), "seats": ("석", "seats"),
        "seatMap": ("좌석 배치도", "Seat map"), "venue": ("공연장", "Venue"),
        "csvHelp": ("CSV: section,row,seat,x,y,tier[,attributes] — 한 줄에 좌석 하나", "CSV: section,row,seat,x,y,tier[,attributes] — one seat per line"),
        "csvFile": ("CSV 파일", "CSV file"), "csvText": ("또는 붙여넣기", "or paste it"),
        "check": ("검사하고 미리보기", "Check and preview"), "save": ("저장", "Save"),
        "checkedOk": ("문제 없음: %d석. 미리보기를 확인하고 저장하세요.", "No problems: %d seats. Look at the preview, then save."),
        "savedMap": ("좌석 배치도를 저장했습니다: %d석.", "Seat map saved: %d seats."),
        "badLines": ("고칠 줄이 있습니다. 아무것도 저장되지 않았습니다.", "Some lines need fixing; nothing was saved."),
        "newEvent": ("새 공연", "New event"), "title": ("제목", "Title"), "artist": ("아티스트", "Artist"),
        "category": ("장르", "Category"), "description": ("소개", "Description"),
        "concert": ("콘서트", "Concert"), "musical": ("뮤지컬", "Musical"), "theatre": ("연극", "Theatre"),
        "sports": ("스포츠", "Sports"), "exhibition": ("전시", "Exhibition"),
        "newPerformance": ("새 회차", "New performance"), "event": ("공연", "Event"),
        "startsAt": ("공연 시작 (한국 시간)", "Starts (Korea time)"), "onSaleFrom": ("판매 시작", "On sale from"),
        "onSaleUntil": ("판매 종료", "On sale until"), "holdMinutes": ("좌석 선점 시간(분)", "Hold minutes"),
        "maxPerOrder": ("주문당 최대 매수", "Most seats per order"), "maxPerFan": ("1인당 최대 매수", "Most seats per fan"),
        "price": ("가격(원)", "Price (KRW)"), "pickVenueFirst": ("공연장에 좌석 배치도가 있어야 가격을 정할 수 있습니다.", "The venue needs a seat map before prices can be set."),
        "created": ("만들었습니다.", "Created."), "signIn": ("주최자 계정으로 로그인하세요.", "Sign in with an organizer account."),
        "organizersOnly": ("주최자만 볼 수 있는 페이지입니다.", "Only organizers can use this page."),
        "confirmPublish": ("공개하면 판매 시작 시각에 누구나 예매할 수 있습니다. 공개할까요?", "Once published, anyone can buy when sales open. Publish?"),
        "confirmCancel": ("취소하면 판매가 멈추고, 결제된 주문 %d건(%s)이 전액 환불됩니다. 되돌릴 수 없습니다. 취소할까요?",
                          "Cancelling stops sales and refunds %d paid orders (%s) in full. This cannot be undone. Cancel?"),
        "error": ("문제가 생겼습니다. 다시 시도하세요.", "Something went wrong; try again."),
        "available": ("구매 가능", "Available"), "held": ("선점", "Held"), "sold": ("판매", "Sold"),
        "tier": ("등급", "Tier"), "revenue": ("매출", "Revenue"), "gross": ("결제", "Paid in"),
        "refunded": ("환불", "Refunded"), "net": ("순매출", "Net"), "paidOrders": ("결제 주문", "Paid orders"),
        "ticketsSold": ("발권", "Tickets"), "liveMap": ("실시간 좌석", "Live seat map"),
        "orders": ("주문", "Orders"), "search": ("검색", "Search"),
        "searchHint": ("주문번호, 좌석(A-1-2) 또는 이메일", "Order ID, seat (A-1-2) or email"),
        "anyStatus": ("모든 상태", "Any status"), "export": ("CSV 내보내기", "Export CSV"),
        "noOrders": ("주문이 없습니다.", "No orders."), "more": ("더 보기", "More"),
        "order": ("주문", "Order"), "status": ("상태", "Status"), "fan": ("구매자", "Fan"), "total": ("금액", "Total"),
        "history": ("이력", "History"), "when": ("시각", "When"),
        "paid": ("결제 완료", "Paid"), "pending_payment": ("결제 대기", "Awaiting payment"),
        "payment_failed": ("결제 실패", "Payment failed"), "partially_cancelled": ("부분 취소", "Partly cancelled"),
        "queue": ("대기열", "Waiting room"), "queueOff": ("대기열을 쓰지 않습니다.", "No waiting room."),
        "enabled": ("사용", "On"), "opensAt": ("입장 시작", "Opens at"), "prequeueMinutes": ("사전 대기(분)", "Pre-queue minutes"),
        "admitPerMinute": ("분당 입장", "Admitted per minute"), "maxActiveShoppers": ("동시 구매자", "Shoppers at once"),
        "sessionMinutes": ("구매 시간(분)", "Shopping minutes"), "keepAliveSeconds": ("연결 확인(초)", "Keep-alive seconds"),
        "pause": ("일시 정지", "Pause"), "resume": ("재개", "Resume"), "close": ("닫기", "Close"),
        "waiting": ("대기", "Waiting"), "admitted": ("입장", "Admitted"), "active": ("구매 중", "Shopping"),
        "rate": ("입장/분", "Admitted/min"), "etaLast": ("마지막 대기자 예상", "Last in line, ETA"),
        "state": ("상태", "State"), "minutes": ("분", "min"), "seatsColumn": ("좌석", "Seats"),
        "q_off": ("꺼짐", "Off"), "q_scheduled": ("예정", "Scheduled"), "q_prequeue": ("사전 대기", "Pre-queue"),
        "q_admitting": ("입장 중", "Admitting"), "q_paused": ("일시 정지", "Paused"), "q_sold-out": ("매진", "Sold out"),
        "q_closed": ("닫힘", "Closed"), "q_none": ("없음", "None"),
        "queueNone": ("이 회차에는 대기열이 없습니다. 아래에서 설정하면 예매는 대기열을 거쳐야 합니다.",
                      "This performance has no waiting room. Set one up below and buying goes through it."),
        "back": ("← 콘솔로", "← Desk"), "savedQueue": ("대기열 설정을 저장했습니다.", "Waiting-room settings saved."),
    ]

    /// The words for one language as a JSON object, safe inside a `<script>` element.
    static func json(_ language: PageLanguage) -> String {
        let chosen = words.mapValues { language == .ko ? $0.ko : $0.en }
        let data = (try? JSONSerialization.data(withJSONObject: chosen, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
            .replacingOccurrences(of: "<", with: "\\u003c").replacingOccurrences(of: ">", with: "\\u003e")
            .replacingOccurrences(of: "&", with: "\\u0026")
    }

    static func word(_ key: String, _ language: PageLanguage) -> String {
        words[key].map { language == .ko ? $0.ko : $0.en } ?? key
    }
}
