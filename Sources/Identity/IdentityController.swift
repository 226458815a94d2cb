import BoxofficeKit
import HTTPKit
import Hummingbird

/// `/v1/auth/*`, `/v1/me` and the admin's role management.
public struct IdentityController: Sendable {
    let service: IdentityService
    let browserSessions: BrowserSessions
    let oauth: OAuthSignIn

    public init(service: IdentityService, browserSessions: BrowserSessions, oauth: OAuthSignIn) {
        self.service = service
        self.browserSessions = browserSessions
        self.oauth = oauth
    }

    struct ProvidersResponse: Encodable {
        let providers: [String]
    }

    struct BrowserSignInRequest: Decodable {
        let email: String
        let password: String
        let rememberMe: Bool?
    }

    struct BrowserSignInResponse: Encodable {
        let user: User
        let csrfToken: String
    }

    struct SignUpRequest: Decodable {
        let email: String
        let password: String
        let name: String
        let humanCheck: HumanCheckProof?
        let language: String?
    }

    struct SignInRequest: Decodable {
        let email: String
        let password: String
    }

    struct RefreshTokenRequest: Decodable {
        let refreshToken: String
    }

    struct UserResponse: Encodable {
        let user: User
    }

    struct RefreshResponse: Encodable {
        let accessToken: String
        let refreshToken: String
        let tokenType: String
        let expiresIn: Int
    }

    struct ProfileUpdate: Decodable {
        let name: String?
        let language: String?
    }

    struct PasswordChange: Decodable {
        let currentPassword: String
        let newPassword: String
    }

    struct RolesUpdate: Decodable {
        let roles: [String]
    }

    struct VerifyEmailRequest: Decodable {
        let token: String
    }

    struct VerifiedEmail: Encodable {
        let verified: Bool
        let user: User
    }

    public func addRoutes(to routes: RouteRegistrar<AppRequestContext>) {
        let auth = routes.group("/v1/auth")
        auth.post("/signup") { request, context in
            let body = try await request.decodeJSON(as: SignUpRequest.self, context: context)
            let user = try await service.signUp(
                email: body.email, password: body.password, name: body.name, language: body.language,
                verification: .required(body.humanCheck, clientAddress: context.clientAddress))
            return try Response.json(UserResponse(user: user), status: .created)
        }
        auth.post("/challenge") { _, _ in
            guard let proofOfWork = service.proofOfWork else {
                throw Problem(
                    type: Problem.typeURI("no-challenge"), title: "This server does not use proof-of-work challenges.",
                    status: 409, detail: "The configured human check does not hand out challenges.")
            }
            return try Response.json(proofOfWork.issue(), headers: [.cacheControl: "no-store"])
        }
        auth.post("/signin") { request, context in
            let body = try await request.decodeJSON(as: SignInRequest.self, context: context)
            let session = try await service.signIn(email: body.email, password: body.password, clientAddress: context.clientAddress)
            return try Response.json(session, headers: [.cacheControl: "no-store"])
        }
        auth.post("/refresh") { request, context in
            let body = try await request.decodeJSON(as: RefreshTokenRequest.self, context: context)
            let session = try await service.refresh(body.refreshToken)
            return try Response.json(
                RefreshResponse(
                    accessToken: session.accessToken, refreshToken: session.refreshToken,
                    tokenType: session.tokenType, expiresIn: session.expiresIn),
                headers: [.cacheControl: "no-store"])
        }
        auth.post("/browser-session") { request, context in
            let body = try await request.decodeJSON(as: BrowserSignInRequest.self, context: context)
            let signedIn = try await browserSessions.signIn(
                email: body.email, password: body.password, rememberMe: body.rememberMe ?? false,
                clientAddress: context.clientAddress, secure: request.arrivedOverTLS)
            var response = try Response.json(
                BrowserSignInResponse(user: signedIn.user, csrfToken: signedIn.csrfToken), headers: [.cacheControl: "no-store"])
            for cookie in signedIn.cookies { response.setCookie(cookie) }
            return response
        }
        auth.delete("/browser-session") { request, _ in
            var response = Response(status: .noContent)
            for cookie in try await browserSessions.signOut(request, secure: request.arrivedOverTLS) {
                response.setCookie(cookie)
            }
            return response
        }
        auth.get("/oauth/providers") { _, _ in
            try Response.json(ProvidersResponse(providers: oauth.providerNames))
        }
        auth.get("/oauth/:provider/start") { request, context in
            let started = try await oauth.start(
                provider: try context.parameters.require("provider"), returnTo: request.uri.queryParameters["returnTo"].map(String.init),
                clientAddress: context.clientAddress)
            var response = Response(status: .found, headers: [.location: started.location, .cacheControl: "no-store"])
            // Lax: sent on the provider's top-level redirect back to the callback, not on other sites' requests.
            response.setCookie(Cookie(
                name: OAuthSignIn.bindingCookie, value: started.binding, maxAge: 600, path: "/v1/auth/oauth",
                secure: request.arrivedOverTLS, httpOnly: true, sameSite: .lax))
            return response
        }
        auth.get("/oauth/:provider/callback") { request, context in
            let query = request.uri.queryParameters
            let (user, returnTo) = try await oauth.finish(
                provider: try context.parameters.require("provider"), code: query["code"].map(String.init),
                state: query["state"].map(String.init), error: query["error"].map(String.init),
                binding: request.cookies[OAuthSignIn.bindingCookie]?.value)
            var response = Response(status: .found, headers: [.location: returnTo, .cacheControl: "no-store"])
            response.setCookie(Cookie(
                name: OAuthSignIn.bindingCookie, value: "", maxAge: 0, path: "/v1/auth/oauth", secure: request.arrivedOverTLS, httpOnly: true,
                sameSite: .lax))
            for cookie in try await browserSessions.start(for: user, secure: request.arrivedOverTLS) {
                response.setCookie(cookie)
            }
            return response
        }
        // The link in the verification mail (GET), or a page or app passing its token on (POST).
        auth.get("/verify-email") { request, _ in
            let user = try await service.verifyEmail(token: request.uri.queryParameters["token"].map(String.init) ?? "")
            return try Response.json(VerifiedEmail(verified: true, user: user), headers: [.cacheControl: "no-store"])
        }
        auth.post("/verify-email") { request, context in
            let body = try await request.decodeJSON(as: VerifyEmailRequest.self, context: context)
            return try Response.json(VerifiedEmail(verified: true, user: try await service.verifyEmail(token: body.token)))
        }
        auth.post("/signout") { request, context in
            let body = try await request.decodeJSON(as: RefreshTokenRequest.self, context: context)
            try await service.signOut(body.refreshToken)
            return HTTPResponse.Status.noContent
        }

        let me = routes.group("/v1/me", context: AuthenticatedContext.self)
        me.get("") { _, context in
            try Response.json(try await service.user(id: context.principal.userID))
        }
        me.patch("") { request, context in
            let body = try await request.decodeJSON(as: ProfileUpdate.self, context: context)
            return try Response.json(try await service.updateProfile(userID: context.principal.userID, name: body.name, language: body.language))
        }
        me.post("/password") { request, context in
            let body = try await request.decodeJSON(as: PasswordChange.self, context: context)
            try await service.changePassword(userID: context.principal.userID, current: body.currentPassword, new: body.newPassword)
            return HTTPResponse.Status.noContent
        }
        me.post("/verification-email") { _, context in
            try await service.requestVerificationEmail(userID: context.principal.userID)
            return HTTPResponse.Status.accepted
        }

        let admin = routes.group("/v1/admin", context: AuthenticatedContext.self)
            .add(middleware: RequireRoleMiddleware(anyOf: .admin))
        admin.put("/users/:userId/roles") { request, context in
            let body = try await request.decodeJSON(as: RolesUpdate.self, context: context)
            var roles = Set<Role>()
            var errors: [Problem.FieldError] = []
            for (index, name) in body.roles.enumerated() {
                if let role = Role(rawValue: name) {
                    roles.insert(role)
                } else {
                    let known = Role.allCases.map(\.rawValue).joined(separator: ", ")
                    errors.append(.init(field: "roles[\(index)]", message: "'\(name)' is not a role (\(known))"))
                }
            }
            guard errors.isEmpty else { throw Problem.validation(errors) }
            let userID = try context.parameters.require("userId")
            return try Response.json(try await service.setRoles(userID: userID, roles: roles, by: context.principal))
        }
    }
}
