<?xml version="1.0" encoding="UTF-8"?>
<!-- MARC21 (MARCXML) to Zebra index instructions: the bib-1 use attributes that copy-cataloguing
     clients (Koha, Libol) and harvesters send. Title 4, Author 1003, ISBN 7, ISSN 8,
     Local-number 12 (001), Subject-heading 21, Date-of-publication 31 (008/07-10, 260/264 $c),
     Publisher 1018, Any 1016, Date/time-last-modified 1012 (005, a key index: YYYYMMDDhhmmss
     strings compare like times). Leader/05 = 'd' turns the record into a deletion. -->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:m="http://www.loc.gov/MARC21/slim"
    xmlns:z="http://indexdata.com/zebra-2.0"
    exclude-result-prefixes="m">
  <xsl:output method="xml" encoding="UTF-8" indent="no"/>

  <xsl:template match="text()"/>

  <xsl:template match="/m:record | /m:collection/m:record | /record">
    <xsl:variable name="id" select="normalize-space(*[local-name()='controlfield'][@tag='001'])"/>
    <xsl:variable name="status" select="substring(*[local-name()='leader'], 6, 1)"/>
    <xsl:variable name="f008" select="*[local-name()='controlfield'][@tag='008']"/>
    <z:record z:id="{$id}">
      <xsl:attribute name="z:type">
        <xsl:choose>
          <xsl:when test="$status = 'd'">delete</xsl:when>
          <xsl:otherwise>update</xsl:otherwise>
        </xsl:choose>
      </xsl:attribute>
      <z:index name="Local-number:0 Local-number:w"><xsl:value-of select="$id"/></z:index>
      <xsl:for-each select="*[local-name()='controlfield'][@tag='005']">
        <z:index name="Date/time-last-modified:0">
          <xsl:value-of select="substring(normalize-space(.), 1, 14)"/>
        </z:index>
      </xsl:for-each>
      <xsl:for-each select="*[local-name()='datafield'][@tag='245' or @tag='246' or @tag='130' or @tag='240']">
        <z:index name="Title:w Title:p">
          <xsl:for-each select="*[local-name()='subfield'][@code='a' or @code='b' or @code='n' or @code='p']">
            <xsl:if test="position() > 1"><xsl:text> </xsl:text></xsl:if>
            <xsl:value-of select="."/>
          </xsl:for-each>
        </z:index>
      </xsl:for-each>
      <xsl:for-each select="*[local-name()='datafield'][@tag='100' or @tag='110' or @tag='111'
                                                      or @tag='700' or @tag='710' or @tag='711']">
        <z:index name="Author:w Author:p">
          <xsl:value-of select="*[local-name()='subfield'][@code='a']"/>
        </z:index>
      </xsl:for-each>
      <!-- ISBN: as written (ISBN-13 digits), and the ISBN-10 of a 978 ISBN, so that either form
           the user types finds it; the ICU chain drops the hyphens between digits -->
      <xsl:for-each select="*[local-name()='datafield'][@tag='020']/*[local-name()='subfield'][@code='a' or @code='z']">
        <xsl:variable name="isbn" select="translate(normalize-space(.), '- ', '')"/>
        <z:index name="ISBN:w ISBN:0"><xsl:value-of select="$isbn"/></z:index>
        <xsl:if test="string-length($isbn) = 13 and starts-with($isbn, '978')
                      and translate($isbn, '0123456789', '') = ''">
          <xsl:variable name="d" select="substring($isbn, 4, 9)"/>
          <xsl:variable name="sum" select="10 * substring($d, 1, 1) + 9 * substring($d, 2, 1)
              + 8 * substring($d, 3, 1) + 7 * substring($d, 4, 1) + 6 * substring($d, 5, 1)
              + 5 * substring($d, 6, 1) + 4 * substring($d, 7, 1) + 3 * substring($d, 8, 1)
              + 2 * substring($d, 9, 1)"/>
          <xsl:variable name="check" select="(11 - $sum mod 11) mod 11"/>
          <z:index name="ISBN:w ISBN:0">
            <xsl:value-of select="$d"/>
            <xsl:choose>
              <xsl:when test="$check = 10">X</xsl:when>
              <xsl:otherwise><xsl:value-of select="$check"/></xsl:otherwise>
            </xsl:choose>
          </z:index>
        </xsl:if>
      </xsl:for-each>
      <xsl:for-each select="*[local-name()='datafield'][@tag='022']/*[local-name()='subfield'][@code='a']">
        <z:index name="ISSN:w ISSN:0"><xsl:value-of select="translate(normalize-space(.), '- ', '')"/></z:index>
      </xsl:for-each>
      <xsl:for-each select="*[local-name()='datafield'][@tag='600' or @tag='610' or @tag='611' or @tag='630'
                                                      or @tag='650' or @tag='651' or @tag='653']">
        <z:index name="Subject-heading:w Subject-heading:p">
          <xsl:for-each select="*[local-name()='subfield'][contains('abcdvxyz', @code)]">
            <xsl:if test="position() > 1"><xsl:text> </xsl:text></xsl:if>
            <xsl:value-of select="."/>
          </xsl:for-each>
        </z:index>
      </xsl:for-each>
      <!-- Date of publication: 008/07-10 when it is a year, and the imprint's date as written -->
      <xsl:variable name="year" select="substring($f008, 8, 4)"/>
      <xsl:if test="string-length($year) = 4 and translate($year, '0123456789', '') = ''">
        <z:index name="Date-of-publication:w Date-of-publication:0"><xsl:value-of select="$year"/></z:index>
      </xsl:if>
      <xsl:for-each select="*[local-name()='datafield'][@tag='260' or @tag='264']/*[local-name()='subfield'][@code='c']">
        <z:index name="Date-of-publication:w"><xsl:value-of select="."/></z:index>
      </xsl:for-each>
      <xsl:for-each select="*[local-name()='datafield'][@tag='260' or @tag='264']/*[local-name()='subfield'][@code='b']">
        <z:index name="Publisher:w Publisher:p"><xsl:value-of select="."/></z:index>
      </xsl:for-each>
      <!-- Any: every subfield of the description and the 852 locations; not the 876 statuses, nor $8 links -->
      <xsl:for-each select="*[local-name()='datafield'][number(@tag) &lt; 900 and @tag != '876']
                            /*[local-name()='subfield'][@code != '8']">
        <z:index name="Any:w"><xsl:value-of select="."/></z:index>
      </xsl:for-each>
    </z:record>
  </xsl:template>
</xsl:stylesheet>
