package dev.hypha.control.identity;

/** Turns a token into the identity it proves ("token → identity name"), separate from signing. */
public interface TokenValidator {
    /** The DNS-style identity the token proves; throws an UNAUTHENTICATED {@link CertifyException} otherwise. */
    String identityOf(byte[] token) throws CertifyException;
}
