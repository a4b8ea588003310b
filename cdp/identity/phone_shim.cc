/* extern "C" shim over libphonenumber: parse with a default region, validate, format as E.164.
 * No exception leaves this file; libphonenumber's own logging is muted so that no number it
 * might mention ends up in a log. */
#include "identity/phone_shim.h"

#include <phonenumbers/logger.h>
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

namespace {

using i18n::phonenumbers::NullLogger;
using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

std::once_flag logger_once;

/* The singleton is created on first use (it loads the metadata of every region: about 13 ms).
 * SetLogger is not thread-safe, so it runs once, before this file's first use of the util. The
 * once-function must not throw (libstdc++ runs it under pthread_once), hence nothrow: without
 * memory for the logger, libphonenumber keeps its default one, which logs errors only. */
const PhoneNumberUtil &phone_util() {
    PhoneNumberUtil *util = PhoneNumberUtil::GetInstance();
    std::call_once(logger_once, [util]() noexcept {
        if (NullLogger *logger = new (std::nothrow) NullLogger())
            util->SetLogger(logger);
    });
    return *util;
}

void set_reason(char *reason, size_t reason_cap, const char *text) {
    if (reason != nullptr && reason_cap > 0)
        std::snprintf(reason, reason_cap, "%s", text);
}

/* INVALID_COUNTRY_CODE means either "no region to read a national number with" or "+999...".
 * libphonenumber also accepts a full-width plus sign (U+FF0B). */
bool has_plus_sign(const char *number) {
    return std::strchr(number, '+') != nullptr || std::strstr(number, "\xEF\xBC\x8B") != nullptr;
}

int parse_failure(PhoneNumberUtil::ErrorType error, const char *number, char *reason,
                  size_t reason_cap) {
    switch (error) {
    case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
        set_reason(reason, reason_cap,
                   has_plus_sign(number) ? "unknown country calling code"
                                         : "no country to read a national number");
        break;
    case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
    case PhoneNumberUtil::TOO_SHORT_NSN:
        set_reason(reason, reason_cap, "too short");
        break;
    case PhoneNumberUtil::TOO_LONG_NSN:
        set_reason(reason, reason_cap, "too long");
        break;
    default:
        set_reason(reason, reason_cap, "not a number");
        break;
    }
    return CDP_PHONE_INVALID;
}

int to_e164(const char *number, const char *region, char *out, size_t cap, char *reason,
            size_t reason_cap) {
    const PhoneNumberUtil &util = phone_util();
    std::string default_region = region != nullptr ? region : "ZZ";
    /* An unknown region would make Parse fail the same way as no region; say so plainly. */
    if (default_region != "ZZ" && util.GetCountryCodeForRegion(default_region) == 0)
        default_region = "ZZ";

    PhoneNumber parsed;
    PhoneNumberUtil::ErrorType error = util.Parse(number, default_region, &parsed);
    if (error != PhoneNumberUtil::NO_PARSING_ERROR)
        return parse_failure(error, number, reason, reason_cap);
    if (parsed.has_extension() && !parsed.extension().empty()) {
        set_reason(reason, reason_cap, "extensions are not accepted");
        return CDP_PHONE_INVALID;
    }
    if (!util.IsValidNumber(parsed)) {
        std::string number_region;
        util.GetRegionCodeForCountryCode(parsed.country_code(), &number_region);
        char text[64];
        /* "001" is libphonenumber's region for non-geographic codes (+800, +882, ...). */
        if (number_region.size() == 2 && number_region != "ZZ")
            std::snprintf(text, sizeof text, "not a valid number for %s", number_region.c_str());
        else
            std::snprintf(text, sizeof text, "not a valid number for country code +%d",
                          static_cast<int>(parsed.country_code()));
        set_reason(reason, reason_cap, text);
        return CDP_PHONE_INVALID;
    }
    std::string e164;
    util.Format(parsed, PhoneNumberUtil::E164, &e164);
    /* IsValidNumber accepts some numbers whose E.164 form has more than the 15 digits E.164
     * allows (a national number keeping its leading zeros): the caller's input, not our fault. */
    if (e164.size() + 1 > cap) {
        set_reason(reason, reason_cap, "more digits than E.164 allows (15)");
        return CDP_PHONE_INVALID;
    }
    std::memcpy(out, e164.c_str(), e164.size() + 1);
    return CDP_PHONE_OK;
}

} // namespace

extern "C" int cdp_phone_to_e164(const char *number, const char *region, char *out, size_t cap,
                                 char *reason, size_t reason_cap) {
    set_reason(reason, reason_cap, "");
    if (out != nullptr && cap > 0)
        out[0] = '\0';
    if (number == nullptr || out == nullptr || cap == 0) {
        set_reason(reason, reason_cap, "bad arguments");
        return CDP_PHONE_FAILED;
    }
    try {
        return to_e164(number, region, out, cap, reason, reason_cap);
    } catch (const std::bad_alloc &) {
        set_reason(reason, reason_cap, "out of memory");
        return CDP_PHONE_NOMEM;
    } catch (...) {
        set_reason(reason, reason_cap, "libphonenumber failed");
        return CDP_PHONE_FAILED;
    }
}
